// Error codes (stable, from the server or the browser) -> what the user reads.

const MESSAGES = {
  network_error: "No connection. Check your network; we will keep trying.",
  network_timeout: "The service did not answer in time. Check your network and try again.",
  activation_code_invalid: "This activation code is not valid, already used or expired. Ask for a new one.",
  rate_limited: "Too many attempts. Wait a minute and try again.",
  webauthn_verification_failed: "Your fingerprint or face check could not be verified. Nothing was approved.",
  webauthn_challenge_invalid: "This request timed out. Please try again.",
  webauthn_required: "Approving needs your fingerprint or face check.",
  webauthn_credential_exists: "This phone is already set up for this account.",
  number_mismatch: "The number did not match. The sign-in was denied for your safety.",
  approval_expired: "This request expired. Start the sign-in again if it was you.",
  approval_already_decided: "This request was already answered.",
  approval_not_found: "This request no longer exists.",
  not_authenticated: "This phone is not set up yet.",
  device_revoked: "This phone was removed and can no longer approve sign-ins.",
  csrf_failed: "The page is out of date. Reload it and try again.",
  NotAllowedError: "The fingerprint or face check was cancelled or failed. Nothing was approved.",
  InvalidStateError: "This phone is already set up for this account.",
  SecurityError: "This page's address cannot use fingerprint sign-in.",
  NotSupportedError: "This browser cannot use the phone's fingerprint or face check.",
};

export function messageFor(error) {
  const code = (error && (error.code || error.name)) || "";
  if (MESSAGES[code]) return MESSAGES[code];
  if (error && error.status >= 500) return "The service had a problem. Please try again shortly.";
  return "Something went wrong. Please try again.";
}
