// Fetch wrapper for the approver API: same-origin cookies, CSRF header, problem+json -> ApiError(code),
// and a time limit, so that a request the network swallowed never holds the page.

export class ApiError extends Error {
  constructor(code, status, detail) {
    super(detail || code);
    this.code = code;
    this.status = status;
  }
}

const BASE = "/approver/api/";
// The server sets the limit (MFA_APPROVER_API_TIMEOUT_SECONDS); 20 s if the page has none.
function timeoutMs() {
  return Number(document.querySelector('meta[name="api-timeout-ms"]')?.content) || 20000;
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// ``fetch`` then ``read(response)`` within the time limit. A failed network gives ApiError("network_error"),
// no answer in time ApiError("network_timeout"); ``read`` failing for any other reason gives null.
export async function request(url, init, read = (response) => response.json()) {
  const controller = new AbortController();
  const timer = window.setTimeout(() => controller.abort(), timeoutMs());
  try {
    const response = await fetch(url, { ...init, credentials: "same-origin", cache: "no-store", signal: controller.signal });
    let body = null;
    if (response.status !== 204) {
      try {
        body = await read(response);
      } catch (err) {
        if (controller.signal.aborted) throw err;
      }
    }
    return { response, body };
  } catch (err) {
    if (controller.signal.aborted) throw new ApiError("network_timeout", 0, "The service did not answer in time.");
    throw new ApiError("network_error", 0, "The network is unavailable.");
  } finally {
    window.clearTimeout(timer);
  }
}

export function errorOf(response, payload) {
  return new ApiError((payload && payload.code) || `http_${response.status}`, response.status, payload && payload.detail);
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-CSRFToken"] = csrfToken();
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  const { response, body: payload } = await request(BASE + path, init);
  if (!response.ok) {
    throw errorOf(response, payload);
  }
  return payload;
}
