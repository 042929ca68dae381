// "Certificate for this computer": choose a PKCS#12 password, confirm with the fingerprint / face check,
// download the .p12 once (the server generates the key and does not keep it).
import { api, ApiError, csrfToken, errorOf, request } from "./api.js";
import { messageFor } from "./messages.js";
import { getAssertion } from "./webauthn.js";

const $ = (id) => document.getElementById(id);

const MESSAGES = {
  ca_not_found: "Your organisation has not set up certificates yet. Ask your administrator.",
  ca_expired: "Your organisation's certificate authority has expired. Ask your administrator.",
  p12_password_too_short: "The password is too short.",
  subscriber_inactive: "Your account is disabled or locked.",
  password_mismatch: "The two passwords differ.",
  webauthn_verification_failed: "Your fingerprint or face check could not be verified. No certificate was issued.",
  NotAllowedError: "The fingerprint or face check was cancelled or failed. No certificate was issued.",
};

function messageOf(error) {
  const code = (error && (error.code || error.name)) || "";
  return MESSAGES[code] || messageFor(error);
}

// POST that answers a file: problem+json errors still become ApiError(code).
async function postForFile(path, body) {
  const init = {
    method: "POST",
    // Errors come as problem+json; the PKCS#12 itself is a plain attachment outside content negotiation.
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
  };
  const read = (response) => (response.ok ? response.blob() : response.json());
  const { response, body: answer } = await request(`/approver/api/${path}`, init, read);
  if (!response.ok) {
    throw errorOf(response, answer);
  }
  if (!(answer instanceof Blob)) {
    throw new ApiError("network_error", 0, "The download was interrupted.");
  }
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  return { blob: answer, filename: match ? match[1] : "certificate.p12" };
}

function saveFile({ blob, filename }) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function report(text, code = "") {
  const out = $("certificate-status");
  out.textContent = text;
  out.dataset.code = code;
}

async function onCertificate(event) {
  event.preventDefault();
  const password = $("certificate-password").value;
  const again = $("certificate-password-again").value;
  const button = $("certificate-button");
  report("");
  if (password !== again) {
    report(messageOf({ code: "password_mismatch" }), "password_mismatch");
    return;
  }
  button.disabled = true;
  try {
    const options = await api("certificate/options", { method: "POST", body: {} });
    if (password.length < options.min_password_length) {
      report(`The password needs at least ${options.min_password_length} characters.`, "p12_password_too_short");
      return;
    }
    report("Confirm with your fingerprint or face…");
    const credential = await getAssertion(options.publicKey);
    saveFile(await postForFile("certificate", { password, credential }));
    $("certificate-form").reset();
    report("Downloaded. Open the file to install the certificate on this computer; you will need the password.", "issued");
  } catch (err) {
    report(messageOf(err), (err && (err.code || err.name)) || "");
  } finally {
    button.disabled = false;
  }
}

export function bindCertificate() {
  $("certificate-form").addEventListener("submit", onCertificate);
}
