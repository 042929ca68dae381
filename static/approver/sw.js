// Service worker of the approver web app (served at /approver/sw.js, scope /approver/).
// A push carries only {"approval_id"}; the page fetches the details over the device session.
// It also keeps the app shell (page, scripts, styles, the vendored otpauth library) so that the
// Passcode view works offline. Network first: online, everything is fresh; the API is never cached.

const CACHE = "approver-shell-v2";
const SHELL = [
  "/approver/",
  "/approver/brand.css",
  "/static/approver/css/app.css",
  "/static/approver/js/main.js",
  "/static/approver/js/api.js",
  "/static/approver/js/codes.js",
  "/static/approver/js/live.js",
  "/static/approver/js/messages.js",
  "/static/approver/js/push.js",
  "/static/approver/js/webauthn.js",
  "/static/approver/js/passcode.js",
  "/static/approver/js/passcode-store.js",
  "/static/approver/vendor/otpauth.esm.js",
  "/static/approver/js/certificate.js",
  "/static/approver/icons/icon-192.png",
];

self.addEventListener("install", (event) => {
  // One missing file must not cost the whole worker (and with it notifications): cache what answers.
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => Promise.all(SHELL.map((path) => cache.add(path).catch(() => null))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// What the app shell is made of: the page, its static files, brand stylesheet, manifest and logo.
// Never /approver/api/ (private, live data) nor the worker itself.
function isShell(url) {
  const path = url.pathname;
  return path === "/approver/" || path === "/approver/brand.css" || path === "/approver/manifest.webmanifest"
    || path.startsWith("/approver/brand/") || path.startsWith("/static/approver/");
}

// Network first for the shell, refreshing the cache with each good answer; the cache when offline.
self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || !isShell(url)) {
    return;
  }
  const key = url.pathname === "/approver/" ? "/approver/" : request; // the page: one entry, any query
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok && response.type === "basic") {
          const copy = response.clone();
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(key, copy)));
        }
        return response;
      })
      .catch(async () => (await caches.match(key)) || (await caches.match(request, { ignoreSearch: true }))
        || Response.error()),
  );
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
