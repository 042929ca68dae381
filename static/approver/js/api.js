// Fetch wrapper for the approver API: same-origin cookies, CSRF header, problem+json -> ApiError(code).

export class ApiError extends Error {
  constructor(code, status, detail) {
    super(detail || code);
    this.code = code;
    this.status = status;
  }
}

const BASE = "/approver/api/";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-CSRFToken"] = csrfToken();
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError("network_error", 0, "The network is unavailable.");
  }
  if (response.status === 204) {
    return null;
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch (err) {
    payload = null;
  }
  if (!response.ok) {
    const code = (payload && payload.code) || `http_${response.status}`;
    throw new ApiError(code, response.status, payload && payload.detail);
  }
  return payload;
}
