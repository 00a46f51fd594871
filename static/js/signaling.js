// The signaling socket (signaling-protocol.md): JSON frames, reconnection with
// capped exponential backoff and jitter, and no retry after a final close code.

import { nextDelay, shouldRetry } from "./backoff.js";

export class SignalingSocket {
  constructor(path, { onFrame, onOpen = () => {}, onClose = () => {}, WebSocketImpl = WebSocket, location = window.location } = {}) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.url = `${scheme}//${location.host}${path}`;
    Object.assign(this, { onFrame, onOpen, onClose, WebSocketImpl });
    this.attempt = 0;
    this.stopped = false;
    this.ws = null;
    this.timer = null;
  }

  connect() {
    if (this.stopped) return;
    const ws = new this.WebSocketImpl(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.onOpen();
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      // A final code (ended, replaced, logged out...) stops this socket for good,
      // so a later reconnectNow() (the "online" event) cannot reopen it: after
      // 4409 that would take the room back from the user's newer tab.
      if (!shouldRetry(event.code)) this.stopped = true;
      const retry = !this.stopped;
      const delay = retry ? nextDelay(this.attempt++) : null;
      this.onClose({ code: event.code, retry, delay });
      if (retry) this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  // Reconnect now (the browser came back online), skipping the backoff wait.
  reconnectNow() {
    if (this.stopped) return;
    if (this.ws && this.ws.readyState <= 1) return;
    clearTimeout(this.timer);
    this.connect();
  }

  send(frame) {
    if (this.ws && this.ws.readyState === 1) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  }
}
