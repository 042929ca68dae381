// Service worker of the approver web app (served at /approver/sw.js, scope /approver/).
// A push carries only {"approval_id"}; the page fetches the details over the device session.

const CACHE = "approver-shell-v1";
const SHELL = [
  "/static/approver/css/app.css",
  "/static/approver/js/main.js",
  "/static/approver/js/api.js",
  "/static/approver/js/codes.js",
  "/static/approver/js/live.js",
  "/static/approver/js/messages.js",
  "/static/approver/js/push.js",
  "/static/approver/js/webauthn.js",
  "/static/approver/icons/icon-192.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// Network first for everything; the cached static files only help the page say "you are offline".
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/static/approver/")) {
    return;
  }
  event.respondWith(fetch(event.request).catch(() => caches.match(event.request)));
});

self.addEventListener("push", (event) => {
  let approvalId = "";
  let kind = "";
  try {
    const payload = (event.data && event.data.json()) || {};
    approvalId = String(payload.approval_id || "");
    kind = String(payload.kind || "");
  } catch (err) {
    approvalId = "";
  }
  if (!/^[0-9a-f-]{36}$/.test(approvalId)) return;
  // A session code (fallbacks app) never travels in the push: the page fetches it over the device session.
  const isCode = kind === "session_code";
  event.waitUntil(
    self.registration.showNotification(isCode ? "Sign-in code" : "Sign-in request", {
      body: isCode
        ? "A code was sent for your sign-in. Tap to see it."
        : "Someone is signing in with your account. Tap to review.",
      tag: `approval-${approvalId}`,
      requireInteraction: true,
      icon: "/static/approver/icons/icon-192.png",
      data: { url: isCode ? "/approver/" : `/approver/#approval=${approvalId}` },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/approver/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const client of windows) {
        if (new URL(client.url).pathname.startsWith("/approver/")) {
          client.navigate(url);
          return client.focus();
        }
      }
      return self.clients.openWindow(url);
    }),
  );
});
