// Live approval updates over the device WebSocket (the session cookie authenticates it), with backoff.

export function connectLive({ onMessage, onStatus }) {
  let attempt = 0;
  let socket = null;
  let closedByUs = false;

  function open() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/ws/device`);
    socket.addEventListener("open", () => {
      attempt = 0;
      onStatus("live");
    });
    socket.addEventListener("message", (event) => {
      try {
        onMessage(JSON.parse(event.data));
      } catch (err) {
        /* ignore malformed frames */
      }
    });
    socket.addEventListener("close", (event) => {
      if (closedByUs) return;
      if (event.code === 4401) {
        onStatus("unauthenticated");
        return;
      }
      onStatus("offline");
      attempt += 1;
      const delay = Math.min(30000, 500 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2);
      window.setTimeout(open, delay);
    });
  }

  open();
  return {
    close() {
      closedByUs = true;
      if (socket) socket.close();
    },
  };
}
