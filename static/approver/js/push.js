// Service worker + Web Push subscription. Notifications are optional: live updates and Refresh still work.
import { api } from "./api.js";
import { b64urlToBuffer } from "./webauthn.js";

export async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return null;
  try {
    return await navigator.serviceWorker.register("/approver/sw.js", { scope: "/approver/" });
  } catch (err) {
    return null;
  }
}

export function pushSupport(vapidPublicKey) {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    return "unsupported";
  }
  if (!vapidPublicKey) return "disabled";
  if (Notification.permission === "denied") return "denied";
  return Notification.permission === "granted" ? "granted" : "default";
}

export async function enableNotifications(vapidPublicKey) {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return permission;
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: b64urlToBuffer(vapidPublicKey),
  });
  await api("push-subscription", { method: "PUT", body: subscription.toJSON() });
  return "granted";
}
