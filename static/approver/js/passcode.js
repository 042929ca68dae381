// Device passcode (TOTP, RFC 6238: SHA-1, 6 digits, 30 s) for when a push cannot reach this phone.
// The secret is provisioned once over the device session (POST /approver/api/passcode-secret), kept in
// IndexedDB (passcode-store.js) and turned into codes by the vendored otpauth library (never our own
// TOTP code). It works offline: the service worker caches the app shell and this module.
import { Secret, TOTP } from "../vendor/otpauth.esm.js";
import { api, ApiError } from "./api.js";
import { clearPasscode, loadPasscode, savePasscode } from "./passcode-store.js";
import { getAssertion } from "./webauthn.js";

let ticker = null;
let inFlight = Promise.resolve(null);

async function keep(body) {
  const record = {
    deviceId: body.device_id,
    secret: body.secret,
    digits: body.digits,
    period: body.period,
    algorithm: body.algorithm,
    issuer: body.issuer,
    label: body.label,
  };
  await savePasscode(record);
  return record;
}

/**
 * This phone's passcode record: the stored one, else provisioned now (first use). Null when the server
 * already gave this device a secret that this browser no longer has (re-provisioning needs a
 * fingerprint check: setUpAgain). ``deviceId`` is null when offline (whatever is stored is used).
 */
export function passcodeRecord(deviceId) {
  // One lookup at a time: the call right after registration and a quick tap on "Passcode" must not
  // both ask the server (the second would be refused: the secret is handed out once).
  inFlight = inFlight.catch(() => null).then(() => lookUp(deviceId));
  return inFlight;
}

async function lookUp(deviceId) {
  const stored = await loadPasscode();
  if (stored && (deviceId === null || stored.deviceId === deviceId)) return stored;
  if (deviceId === null) return null;
  if (stored) await clearPasscode(); // left over from a device set up earlier in this browser
  try {
    return await keep(await api("passcode-secret", { method: "POST", body: {} }));
  } catch (err) {
    if (err instanceof ApiError && err.code === "passcode_secret_already_provisioned") return null;
    throw err;
  }
}

/** Replace the secret after a fresh fingerprint / face check (the old one stops working). */
export async function setUpAgain() {
  const options = await api("passcode-secret/options", { method: "POST", body: {} });
  const credential = await getAssertion(options.publicKey);
  return keep(await api("passcode-secret", { method: "POST", body: { credential } }));
}

export { clearPasscode };

/** The code for ``now`` (ms) and the whole seconds it stays valid. */
export function passcodeAt(record, now = Date.now()) {
  const totp = new TOTP({
    secret: Secret.fromBase32(record.secret),
    digits: record.digits,
    period: record.period,
    algorithm: record.algorithm,
  });
  const secondsLeft = record.period - (Math.floor(now / 1000) % record.period);
  return { code: totp.generate({ timestamp: now }), secondsLeft };
}

/** Show the record's code in the Passcode view and keep it current (every second) until stopped. */
export function showPasscode(record) {
  stopPasscode();
  const value = document.getElementById("passcode-value");
  const seconds = document.getElementById("passcode-seconds");
  const meter = document.getElementById("passcode-meter");
  document.getElementById("passcode-missing").hidden = true;
  document.getElementById("passcode-current").hidden = false;
  meter.max = record.period;
  const tick = () => {
    const { code, secondsLeft } = passcodeAt(record);
    if (value.dataset.code !== code) {
      value.dataset.code = code; // the live region announces a new code, not every second
      value.textContent = code;
    }
    seconds.textContent = `${secondsLeft} s`;
    meter.value = secondsLeft;
  };
  tick();
  ticker = window.setInterval(tick, 1000);
}

/** No secret in this browser: say so and offer to set it up again. */
export function showPasscodeMissing({ canSetUp }) {
  stopPasscode();
  document.getElementById("passcode-current").hidden = true;
  document.getElementById("passcode-missing").hidden = false;
  document.getElementById("passcode-setup-button").hidden = !canSetUp;
}

export function stopPasscode() {
  window.clearInterval(ticker);
  ticker = null;
}
