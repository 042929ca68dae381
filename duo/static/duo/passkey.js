// Universal Prompt: approve this login with a passkey on this very device (the approver web app's credential).
// Loaded only when the user has one; the page works without it (push, passcode, SMS are plain forms).
import { getAssertion } from "/static/approver/js/webauthn.js";

const button = document.getElementById("use-passkey");
const status = document.getElementById("passkey-status");

async function post(url, csrf, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify(body),
  });
  const payload = await response.json();
  if (!response.ok) throw new Error(payload.detail || "The passkey was refused.");
  return payload;
}

if (button) {
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    const form = button.closest("form");
    const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
    const base = form.dataset.prompt;
    button.disabled = true;
    try {
      const begun = await post(`${base}/passkey/options`, csrf, {});
      const credential = await getAssertion(begun.publicKey);
      await post(`${base}/passkey`, csrf, { txid: begun.txid, credential });
      window.location.assign(base);
    } catch (err) {
      status.textContent = `The passkey did not work: ${err.message}`;
      button.disabled = false;
    }
  });
}
