// The signaling socket (signaling-protocol.md): JSON frames, reconnection with
// capped exponential backoff and jitter, and no retry after a final close code.

import { RETRY_LATER_CLOSE_CODES, laterDelay, nextDelay, shouldRetry } from "./backoff.js";

export class SignalingSocket {
  constructor(path, { onFrame, onOpen = () => {}, onClose = () => {}, WebSocketImpl = WebSocket, location = window.location } = {}) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.url = `${scheme}//${location.host}${path}`;
    Object.assign(this, { onFrame, onOpen, onClose, WebSocketImpl });
    this.attempt = 0;
    this.stopped = false;
    this.ws = null;
    this.previous = null;
    this.timer = null;
    this.notBefore = 0; // after a retry-later close, no attempt before this time
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
      // A socket already replaced by a newer one: the server sends to the newer.
      if (this.ws !== ws) return;
      // The server answered on the new socket, so it has replaced the old one
      // (4409): closing the old one now cannot take the room from the new.
      if (this.previous) {
        this.previous.close(1000);
        this.previous = null;
      }
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
      let delay = null;
      if (retry) delay = RETRY_LATER_CLOSE_CODES.has(event.code) ? laterDelay() : nextDelay(this.attempt++);
      this.notBefore = retry && RETRY_LATER_CLOSE_CODES.has(event.code) ? Date.now() + delay : 0;
      this.onClose({ code: event.code, retry, delay });
      if (retry) this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  // Reconnect now (the browser came back online), skipping the backoff wait,
  // but not a retry-later wait the server asked for. An open socket is
  // replaced too: after a network change (Wi-Fi to 4G) it usually looks open
  // but is dead. The server gives the room to the newest socket and closes the
  // old one with 4409, which is ignored here since it is no longer this.ws.
  reconnectNow() {
    if (this.stopped || Date.now() < this.notBefore) return;
    if (this.ws && this.ws.readyState === 0) return;
    if (this.ws && this.ws.readyState === 1) this.previous = this.ws;
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
