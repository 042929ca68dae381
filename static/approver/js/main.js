// The approver web app: activation, live sign-in requests, approve with WebAuthn, device management.
import { api, ApiError } from "./api.js";
import { bindCertificate } from "./certificate.js";
import { connectLive } from "./live.js";
import { addCode, dropCode, refreshCodes } from "./codes.js";
import { messageFor } from "./messages.js";
import { clearPasscode, passcodeRecord, setUpAgain, showPasscode, showPasscodeMissing, stopPasscode } from "./passcode.js";
import { enableNotifications, pushSupport, registerServiceWorker } from "./push.js";
import { createCredential, getAssertion, webauthnAvailable } from "./webauthn.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["loading", "unsupported", "activate", "home", "approval", "device", "removed", "passcode"];
const state = { me: null, current: null, opening: null, live: null, expiryTimer: null, activationCode: "" };

// --- small UI helpers -------------------------------------------------------------------------

function show(view, { focus = true } = {}) {
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  if (view !== "passcode") stopPasscode();
  document.body.dataset.view = view;
  if (focus) {
    const heading = $(`view-${view}`).querySelector("h2");
    heading.tabIndex = -1;
    heading.focus();
  }
}

function setStatus(text) {
  $("status").textContent = text || "";
}

function setAlert(error) {
  const alert = $("alert");
  if (!error) {
    alert.hidden = true;
    alert.textContent = "";
    return;
  }
  alert.textContent = typeof error === "string" ? error : messageFor(error);
  alert.dataset.code = (error && (error.code || error.name)) || "";
  alert.hidden = false;
}

function busy(button, isBusy) {
  button.disabled = isBusy;
  button.setAttribute("aria-busy", isBusy ? "true" : "false");
}

function applyBrand(brand) {
  if (!brand) return;
  const query = brand.slug ? `?tenant=${encodeURIComponent(brand.slug)}` : "";
  $("brand-css").href = `/approver/brand.css${query}`;
  $("manifest-link").href = `/approver/manifest.webmanifest${query}`;
  $("brand-name").textContent = brand.product_name;
  document.title = brand.app_name;
  for (const el of document.querySelectorAll(".js-product")) el.textContent = brand.product_name;
  const logo = $("brand-logo");
  if (brand.has_logo) {
    logo.src = `/approver/brand/${encodeURIComponent(brand.slug)}/logo`;
    logo.alt = `${brand.product_name} logo`;
    logo.hidden = false;
  }
  if (brand.support_contact) {
    $("support-contact").textContent = brand.support_contact;
    $("support").hidden = false;
  }
}

function browserOf(userAgent) {
  if (!userAgent) return "Unknown";
  const browser = /Edg\//.test(userAgent) ? "Edge" : /Firefox\//.test(userAgent) ? "Firefox"
    : /Chrome\//.test(userAgent) ? "Chrome" : /Safari\//.test(userAgent) ? "Safari" : "A browser";
  const os = /Android/.test(userAgent) ? "Android" : /iPhone|iPad/.test(userAgent) ? "iOS"
    : /Windows/.test(userAgent) ? "Windows" : /Mac OS X/.test(userAgent) ? "macOS"
    : /Linux/.test(userAgent) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

const FINAL_TEXT = {
  approved: "Approved. You can return to the sign-in page.",
  denied: "Denied. The sign-in was refused.",
  fraud: "Reported. The sign-in was refused and your administrator can see the report.",
  timeout: "This request expired. Start the sign-in again if it was you.",
  cancelled: "The sign-in was cancelled.",
};

// --- session ----------------------------------------------------------------------------------

async function loadMe() {
  try {
    state.me = await api("me");
    return state.me;
  } catch (err) {
    if (err instanceof ApiError && (err.code === "not_authenticated" || err.code === "device_revoked")) {
      state.me = null;
      return null;
    }
    throw err;
  }
}

async function start() {
  registerServiceWorker();
  window.addEventListener("offline", () => setStatus(messageFor({ code: "network_error" })));
  window.addEventListener("online", () => {
    setStatus("Back online.");
    if (state.me) refreshPending();
  });
  window.addEventListener("hashchange", routeFromHash);
  bindHandlers();
  const params = new URLSearchParams(window.location.hash.slice(1));
  state.activationCode = params.get("activate") || "";
  let me;
  try {
    me = await loadMe();
  } catch (err) {
    if (err.code === "network_error" && (await openPasscodeOffline())) return;
    setAlert(err);
    show("loading");
    window.setTimeout(start, 5000);
    return;
  }
  if (me) {
    enterHome();
    return;
  }
  await clearPasscode(); // no device session (removed, revoked, never set up): a stored passcode is stale
  if (!(await webauthnAvailable())) {
    show("unsupported");
    return;
  }
  $("activation-code").value = state.activationCode;
  show("activate");
}

function enterHome() {
  applyBrand(state.me.brand);
  $("rename-input").value = state.me.name;
  updateNotifyButton();
  if (!state.live) {
    state.live = connectLive({ onMessage: onLiveMessage, onStatus: onLiveStatus });
  }
  const approvalId = new URLSearchParams(window.location.hash.slice(1)).get("approval");
  if (approvalId) {
    openApproval(approvalId);
  } else {
    show("home");
    refreshPending();
  }
}

function routeFromHash() {
  const approvalId = new URLSearchParams(window.location.hash.slice(1)).get("approval");
  if (state.me && approvalId) openApproval(approvalId);
}

function onLiveStatus(status) {
  document.body.dataset.live = status;
  if (status === "offline") setStatus("Connection lost. Reconnecting… Use Refresh to check for requests.");
  if (status === "live") setStatus("");
  if (status === "unauthenticated") {
    state.live = null;
    clearPasscode();
    show("removed");
  }
}

function onLiveMessage(message) {
  if (message.type === "approval.request") {
    const onHome = document.body.dataset.view === "home";
    refreshPending();
    if (onHome) openApproval(message.approval_id);
    else setStatus("A new sign-in request arrived.");
  } else if (message.type === "session.code") {
    addCode(message);
    setStatus(`A sign-in code for ${message.application} arrived.`);
  } else if (message.type === "approval.updated") {
    dropCode(message.approval_id);
    // Decided elsewhere (or expired) while on screen.
    if (state.current && state.current.approval_id === message.approval_id) endedElsewhere(state.current, message.status);
    refreshPending();
  }
}

// --- activation -------------------------------------------------------------------------------

async function onActivate(event) {
  event.preventDefault();
  setAlert(null);
  const code = $("activation-code").value.trim();
  const name = $("device-name").value.trim() || "My phone";
  if (!code) {
    setAlert("Enter the activation code.");
    $("activation-code").focus();
    return;
  }
  const button = $("activate-button");
  busy(button, true);
  setStatus("Follow your phone's fingerprint or face prompt…");
  try {
    const begin = await api("register/options", { method: "POST", body: { code } });
    applyBrand(begin.brand);
    const credential = await createCredential(begin.publicKey);
    await api("register", { method: "POST", body: { code, name, credential } });
    history.replaceState(null, "", "/approver/");
    await loadMe();
    setStatus("This phone is set up. Sign-in requests will appear here.");
    enterHome();
    passcodeRecord(state.me.device_id).catch(() => null); // provisioned once now; else on first use
  } catch (err) {
    setStatus("");
    setAlert(err);
  } finally {
    busy(button, false);
  }
}

// --- requests ---------------------------------------------------------------------------------

async function refreshPending() {
  refreshCodes();
  try {
    const pending = await api("approvals");
    const list = $("pending-list");
    list.replaceChildren();
    for (const item of pending) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "card";
      button.textContent = `${item.application} — ${item.username} — ${when(item.created_at)}`;
      button.addEventListener("click", () => openApproval(item.approval_id));
      li.append(button);
      list.append(li);
    }
    $("home-empty").hidden = pending.length > 0;
  } catch (err) {
    setAlert(err);
  }
}

async function openApproval(approvalId) {
  // Already open or opening (a request announced twice, its link followed again): keep what the user is doing.
  const onScreen = document.body.dataset.view === "approval" && state.current?.approval_id === approvalId;
  if (onScreen || state.opening === approvalId) return;
  state.opening = approvalId;
  setAlert(null);
  let approval;
  try {
    approval = await api(`approvals/${encodeURIComponent(approvalId)}`);
  } catch (err) {
    if (state.opening === approvalId) {
      state.opening = null;
      setAlert(err);
      show("home");
    }
    return;
  }
  if (state.opening !== approvalId) return; // another request was opened meanwhile
  state.opening = null;
  state.current = approval;
  $("a-application").textContent = approval.application;
  $("a-tenant").textContent = approval.tenant;
  $("a-username").textContent = approval.username;
  $("a-time").textContent = when(approval.created_at);
  $("a-location").textContent = [approval.ip || "Unknown address", approval.hostname].filter(Boolean).join(" — ");
  $("a-browser").textContent = browserOf(approval.user_agent);
  $("a-display").textContent = approval.display_text || approval.login_type || "—";
  const numberField = $("number-field");
  numberField.hidden = !approval.number_digits;
  $("match-number").value = "";
  $("match-number").maxLength = approval.number_digits || 8;
  $("decision-form").hidden = false;
  for (const id of ["approve-button", "deny-button", "fraud-button"]) $(id).disabled = false;
  $("approval-result").hidden = true;
  show("approval");
  if (approval.number_digits) $("match-number").focus();
  if (approval.status !== "pending") {
    showFinal(approval, approval.status);
    return;
  }
  window.clearTimeout(state.expiryTimer);
  const remaining = new Date(approval.expires_at).getTime() - Date.now();
  state.expiryTimer = window.setTimeout(() => endedElsewhere(approval, "timeout"), Math.max(0, remaining));
}

// The request ended without this page's decision (decided on another device, cancelled, expired). A decision
// of this page still in flight (a wrong number ends the request before its answer arrives) shows its own
// outcome instead; this one shows only if that decision gives none.
function endedElsewhere(approval, status) {
  if (approval !== state.current || approval.final) return;
  if (approval.deciding) approval.endedMeanwhile = status;
  else showFinal(approval, status);
}

// The outcome of ``approval``, shown only while it is the request on screen (the user may have moved on).
function showFinal(approval, status, message) {
  approval.final = true;
  if (approval !== state.current) return;
  window.clearTimeout(state.expiryTimer);
  $("decision-form").hidden = true;
  const result = $("approval-result");
  result.textContent = message || FINAL_TEXT[status] || `This request is ${status}.`;
  result.dataset.status = status;
  result.hidden = false;
  result.focus();
}

async function decide(decision) {
  setAlert(null);
  const approval = state.current;
  const number = $("match-number").value.trim();
  if (decision === "approve" && approval.number_digits && !/^[0-9]+$/.test(number)) {
    setAlert("Type the number shown on the sign-in page.");
    $("match-number").focus();
    return;
  }
  const buttons = ["approve-button", "deny-button", "fraud-button"].map($);
  buttons.forEach((b) => busy(b, true));
  approval.deciding = true;
  try {
    const body = { decision, number: decision === "approve" ? number : "" };
    if (decision === "approve") {
      setStatus("Confirm with your fingerprint or face…");
      const options = await api(`approvals/${approval.approval_id}/options`, { method: "POST", body: { decision } });
      body.credential = await getAssertion(options.publicKey);
    }
    const result = await api(`approvals/${approval.approval_id}/decision`, { method: "POST", body });
    setStatus("");
    showFinal(approval, result.status);
  } catch (err) {
    setStatus("");
    if (err.code === "number_mismatch") {
      showFinal(approval, "denied", messageFor(err));
    } else if (err.code === "approval_expired") {
      showFinal(approval, "timeout");
    } else if (err.code === "approval_already_decided") {
      showFinal(approval, "decided", messageFor(err));
    } else {
      setAlert(err);
    }
  } finally {
    approval.deciding = false;
    if (!approval.final && approval.endedMeanwhile) showFinal(approval, approval.endedMeanwhile);
    buttons.forEach((b) => busy(b, false));
  }
}

// --- passcode (offline TOTP, passcode.js) ----------------------------------------------------

async function openPasscode() {
  setAlert(null);
  show("passcode");
  $("passcode-back-button").hidden = !state.me;
  try {
    const record = await passcodeRecord(state.me ? state.me.device_id : null);
    if (record) showPasscode(record);
    else showPasscodeMissing({ canSetUp: Boolean(state.me) });
  } catch (err) {
    showPasscodeMissing({ canSetUp: false });
    setAlert(err);
  }
}

async function openPasscodeOffline() {
  const record = await passcodeRecord(null);
  if (!record) return false;
  show("passcode");
  $("passcode-back-button").hidden = true;
  showPasscode(record);
  setStatus("You are offline. Your passcode still works.");
  window.addEventListener("online", () => window.location.reload(), { once: true });
  return true;
}

async function onPasscodeSetUp() {
  setAlert(null);
  try {
    setStatus("Confirm with your fingerprint or face…");
    showPasscode(await setUpAgain());
    setStatus("The passcode is set up in this browser.");
  } catch (err) {
    setStatus("");
    setAlert(err);
  }
}

// --- device -----------------------------------------------------------------------------------

async function openDevice() {
  setAlert(null);
  show("device");
  try {
    const history = await api("history");
    const list = $("history-list");
    list.replaceChildren();
    for (const item of history) {
      const li = document.createElement("li");
      li.textContent = `${when(item.created_at)} — ${item.application} — ${item.status}${item.decided_here ? " (this phone)" : ""}`;
      list.append(li);
    }
    if (!history.length) {
      const li = document.createElement("li");
      li.textContent = "No sign-in requests yet.";
      list.append(li);
    }
  } catch (err) {
    setAlert(err);
  }
}

async function onRename(event) {
  event.preventDefault();
  setAlert(null);
  const name = $("rename-input").value.trim();
  if (!name) {
    setAlert("Enter a name.");
    return;
  }
  try {
    state.me = { ...state.me, ...(await api("me", { method: "PATCH", body: { name } })) };
    setStatus(`Renamed to ${state.me.name}.`);
  } catch (err) {
    setAlert(err);
  }
}

async function onRemove() {
  if (!window.confirm("Remove this phone? It will no longer be able to approve sign-ins.")) return;
  try {
    setStatus("Confirm with your fingerprint or face…");
    const options = await api("me/options", { method: "POST", body: {} });
    const credential = await getAssertion(options.publicKey);
    await api("me", { method: "DELETE", body: { credential } });
    setStatus("");
    if (state.live) state.live.close();
    state.live = null;
    state.me = null;
    await clearPasscode();
    show("removed");
  } catch (err) {
    setStatus("");
    setAlert(err);
  }
}

function updateNotifyButton() {
  const support = pushSupport(state.me && state.me.vapid_public_key);
  const button = $("notify-button");
  const text = {
    unsupported: "Notifications are not available in this browser; keep this app open or use Refresh.",
    disabled: "Notifications are not set up by your organisation; keep this app open or use Refresh.",
    denied: "Notifications are blocked for this app in your browser settings.",
    granted: state.me && state.me.push_subscribed ? "Notifications are on." : "",
    default: "",
  }[support];
  button.hidden = !(support === "default" || (support === "granted" && !(state.me && state.me.push_subscribed)));
  $("notify-status").textContent = text;
}

async function onNotify() {
  try {
    const result = await enableNotifications(state.me.vapid_public_key);
    if (result === "granted") state.me.push_subscribed = true;
  } catch (err) {
    setAlert(err);
  }
  updateNotifyButton();
}

function bindHandlers() {
  $("activate-form").addEventListener("submit", onActivate);
  $("refresh-button").addEventListener("click", refreshPending);
  $("notify-button").addEventListener("click", onNotify);
  $("device-button").addEventListener("click", openDevice);
  $("decision-form").addEventListener("submit", (e) => {
    e.preventDefault();
    decide("approve");
  });
  $("deny-button").addEventListener("click", () => decide("deny"));
  $("fraud-button").addEventListener("click", () => decide("fraud"));
  $("back-button").addEventListener("click", () => {
    state.current = null;
    history.replaceState(null, "", "/approver/");
    show("home");
    refreshPending();
  });
  $("device-back-button").addEventListener("click", () => {
    show("home");
    refreshPending();
  });
  $("rename-form").addEventListener("submit", onRename);
  $("remove-button").addEventListener("click", onRemove);
  $("passcode-button").addEventListener("click", openPasscode);
  $("passcode-setup-button").addEventListener("click", onPasscodeSetUp);
  $("passcode-back-button").addEventListener("click", () => {
    show("home");
    refreshPending();
  });
  bindCertificate();
}

start();
