import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import { SignalingSocket } from "../signaling.js";

// Stands in for the browser's WebSocket: records what the client does and lets
// the test play the server (open, message, close with a code).
class FakeWebSocket {
  static instances = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0; // CONNECTING
    this.sent = [];
    this.closedWith = null;
    FakeWebSocket.instances.push(this);
  }

  send(data) {
    if (this.readyState !== 1) throw new Error("InvalidStateError: not open");
    this.sent.push(data);
  }

  close(code) {
    this.closedWith = code;
    this.readyState = 2; // CLOSING; the close event comes later, as in a browser
  }

  // --- the server's side ---
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }

  message(data) {
    this.onmessage?.({ data });
  }

  serverClose(code) {
    this.readyState = 3;
    this.onclose?.({ code, wasClean: code !== 1006 });
  }
}

const HTTPS = { protocol: "https:", host: "clinic.example:8443" };
const PATH = "/ws/rooms/ab12cd/";

function socket(options = {}) {
  const frames = [];
  const closes = [];
  let opens = 0;
  const s = new SignalingSocket(PATH, {
    onFrame: (f) => frames.push(f),
    onOpen: () => (opens += 1),
    onClose: (c) => closes.push(c),
    WebSocketImpl: FakeWebSocket,
    location: HTTPS,
    ...options,
  });
  return { s, frames, closes, opens: () => opens };
}

const sockets = () => FakeWebSocket.instances;
const last = () => FakeWebSocket.instances.at(-1);

beforeEach(() => {
  FakeWebSocket.instances = [];
  mock.timers.enable({ apis: ["setTimeout"] });
  mock.method(Math, "random", () => 1); // every delay is its ceiling: 500, 1000, 2000...
});

afterEach(() => {
  mock.timers.reset();
  mock.restoreAll();
});

describe("SignalingSocket URL", () => {
  test("https pages connect with wss to the same host and port", () => {
    const { s } = socket();
    assert.equal(s.url, "wss://clinic.example:8443/ws/rooms/ab12cd/");
    s.connect();
    assert.equal(last().url, "wss://clinic.example:8443/ws/rooms/ab12cd/");
  });

  test("http pages connect with plain ws", () => {
    const { s } = socket({ location: { protocol: "http:", host: "localhost:8000" } });
    assert.equal(s.url, "ws://localhost:8000/ws/rooms/ab12cd/");
  });

  test("nothing is opened until connect()", () => {
    socket();
    assert.equal(sockets().length, 0);
  });
});

describe("SignalingSocket frames", () => {
  test("each JSON frame reaches onFrame parsed", () => {
    const { s, frames } = socket();
    s.connect();
    last().open();
    last().message('{"type":"welcome","polite":true,"peers":[]}');
    last().message('{"type":"pong","id":7}');
    assert.deepEqual(frames, [
      { type: "welcome", polite: true, peers: [] },
      { type: "pong", id: 7 },
    ]);
  });

  test("text that is not JSON is dropped without throwing", () => {
    const { s, frames } = socket();
    s.connect();
    last().open();
    assert.doesNotThrow(() => last().message("not json {"));
    assert.doesNotThrow(() => last().message(""));
    last().message('{"type":"pong","id":1}');
    assert.deepEqual(frames, [{ type: "pong", id: 1 }]);
  });

  test("send serializes the frame as JSON and reports success", () => {
    const { s } = socket();
    s.connect();
    last().open();
    assert.equal(s.send({ type: "signal", data: { candidate: { candidate: "c" } } }), true);
    assert.deepEqual(last().sent.map((t) => JSON.parse(t)), [{ type: "signal", data: { candidate: { candidate: "c" } } }]);
  });

  test("send returns false, and sends nothing, when not open", () => {
    const { s } = socket();
    assert.equal(s.send({ type: "ping", id: 1 }), false); // never connected
    s.connect();
    assert.equal(s.send({ type: "ping", id: 2 }), false); // still connecting
    last().open();
    last().serverClose(1006);
    assert.equal(s.send({ type: "ping", id: 3 }), false); // closed, waiting to reconnect
    assert.deepEqual(sockets()[0].sent, []);
  });

  test("onOpen is called on every (re)connection", () => {
    const { s, opens } = socket();
    s.connect();
    last().open();
    last().serverClose(1006);
    mock.timers.tick(500);
    last().open();
    assert.equal(opens(), 2);
  });
});

describe("SignalingSocket reconnection", () => {
  for (const code of [1006, 4500, 4503, 1000, 1001, 4429]) {
    test(`close code ${code} schedules a reconnection after the backoff delay`, () => {
      const { s, closes } = socket();
      s.connect();
      last().open();
      last().serverClose(code);
      assert.deepEqual(closes, [{ code, retry: true, delay: 500 }]);
      mock.timers.tick(499);
      assert.equal(sockets().length, 1, "reconnected before the delay");
      mock.timers.tick(1);
      assert.equal(sockets().length, 2);
      assert.equal(last().url, "wss://clinic.example:8443/ws/rooms/ab12cd/");
    });
  }

  for (const code of [4401, 4403, 4404, 4409, 4410]) {
    test(`close code ${code} is final: no reconnection`, () => {
      const { s, closes } = socket();
      s.connect();
      last().open();
      last().serverClose(code);
      assert.deepEqual(closes, [{ code, retry: false, delay: null }]);
      mock.timers.tick(60_000);
      assert.equal(sockets().length, 1);
    });
  }

  test("failed attempts back off exponentially", () => {
    const { s, closes } = socket();
    s.connect();
    for (let i = 0; i < 6; i += 1) {
      last().serverClose(1006); // the server is down: never opens
      mock.timers.tick(closes.at(-1).delay);
    }
    assert.deepEqual(closes.map((c) => c.delay), [500, 1000, 2000, 4000, 8000, 15000]);
    assert.equal(sockets().length, 7);
  });

  test("a successful open resets the attempt counter", () => {
    const { s, closes } = socket();
    s.connect();
    for (let i = 0; i < 3; i += 1) {
      last().serverClose(1006);
      mock.timers.tick(closes.at(-1).delay);
    }
    assert.equal(s.attempt, 3);
    last().open();
    assert.equal(s.attempt, 0);
    last().serverClose(1006);
    assert.equal(closes.at(-1).delay, 500);
  });

  test("the delay keeps its jitter: between half the ceiling and the ceiling", () => {
    mock.method(Math, "random", () => 0);
    const { s, closes } = socket();
    s.connect();
    last().serverClose(1006);
    assert.equal(closes[0].delay, 250);
    mock.timers.tick(249);
    assert.equal(sockets().length, 1);
    mock.timers.tick(1);
    assert.equal(sockets().length, 2);
  });

  test("after a final code, reconnectNow() does not reopen the socket", () => {
    const { s } = socket();
    s.connect();
    last().open();
    last().serverClose(4409); // replaced: this user opened the room in another tab
    s.reconnectNow(); // the browser's "online" event must not steal the room back
    mock.timers.tick(60_000);
    assert.equal(sockets().length, 1);
  });
});

describe("SignalingSocket retry-later (4430: too many connection attempts)", () => {
  test("waits 15 to 30 seconds instead of retrying at once", () => {
    const { s, closes } = socket(); // Math.random() is 1: the longest wait
    s.connect();
    last().serverClose(4430);
    assert.deepEqual(closes, [{ code: 4430, retry: true, delay: 30_000 }]);
    mock.timers.tick(29_999);
    assert.equal(sockets().length, 1);
    mock.timers.tick(1);
    assert.equal(sockets().length, 2);
  });

  test("the shortest wait is still 15 seconds", () => {
    mock.method(Math, "random", () => 0);
    const { s, closes } = socket();
    s.connect();
    last().serverClose(4430);
    assert.equal(closes[0].delay, 15_000);
  });

  test("coming back online does not skip the wait the server asked for", () => {
    const { s } = socket();
    s.connect();
    last().serverClose(4430);
    s.reconnectNow();
    assert.equal(sockets().length, 1);
  });

  test("does not grow the backoff of ordinary failures", () => {
    const { s, closes } = socket();
    s.connect();
    last().serverClose(4430);
    mock.timers.tick(30_000);
    last().serverClose(1006);
    assert.equal(closes.at(-1).delay, 500);
  });
});

describe("SignalingSocket close()", () => {
  test("closes the socket with 1000 and does not reconnect", () => {
    const { s, closes } = socket();
    s.connect();
    const ws = last();
    ws.open();
    s.close();
    assert.equal(ws.closedWith, 1000);
    ws.serverClose(1000); // the close event arrives
    assert.deepEqual(closes, [{ code: 1000, retry: false, delay: null }]);
    mock.timers.tick(60_000);
    assert.equal(sockets().length, 1);
  });

  test("cancels a reconnection already scheduled", () => {
    const { s } = socket();
    s.connect();
    last().serverClose(1006);
    s.close();
    mock.timers.tick(60_000);
    assert.equal(sockets().length, 1);
  });

  test("a closed socket cannot be connected again", () => {
    const { s } = socket();
    s.close(); // before any connection: must not throw
    s.connect();
    s.reconnectNow();
    assert.equal(sockets().length, 0);
  });

  test("even a close code that would be retried is not, once close() was called", () => {
    const { s, closes } = socket();
    s.connect();
    last().open();
    s.close();
    last().serverClose(1006);
    assert.equal(closes[0].retry, false);
    mock.timers.tick(60_000);
    assert.equal(sockets().length, 1);
  });
});

describe("SignalingSocket reconnectNow()", () => {
  test("skips the backoff wait and cancels the scheduled attempt", () => {
    const { s } = socket();
    s.connect();
    last().open();
    last().serverClose(1006);
    s.reconnectNow();
    assert.equal(sockets().length, 2);
    mock.timers.tick(60_000);
    assert.equal(sockets().length, 2, "the backoff timer fired as well");
  });

  test("does nothing while a socket is connecting", () => {
    const { s } = socket();
    s.connect();
    s.reconnectNow();
    assert.equal(sockets().length, 1);
  });

  test("replaces an open socket: after a network change it is usually dead", () => {
    const { s, frames, closes } = socket();
    s.connect();
    const old = last();
    old.open();
    s.reconnectNow(); // the "online" event: Wi-Fi to 4G
    assert.equal(sockets().length, 2);
    const current = last();
    current.open();
    // Late frames on the old socket are not this session's any more.
    old.message('{"type":"signal","data":{"stale":true}}');
    assert.deepEqual(frames, []);
    // The server replaces the old socket: its 4409 must not stop the new one.
    old.serverClose(4409);
    assert.deepEqual(closes, []);
    current.message('{"type":"welcome","peers":[]}');
    assert.deepEqual(frames, [{ type: "welcome", peers: [] }]);
    assert.equal(s.send({ type: "ping", id: 1 }), true);
    assert.equal(current.sent.length, 1);
    mock.timers.tick(60_000);
    assert.equal(sockets().length, 2);
  });

  test("closes the replaced socket once the new one has heard from the server", () => {
    const { s } = socket();
    s.connect();
    const old = last();
    old.open();
    s.reconnectNow();
    last().open();
    assert.equal(old.closedWith, null, "closed before the server replaced it");
    last().message('{"type":"welcome","peers":[]}');
    assert.equal(old.closedWith, 1000);
  });

  test("a close event from a socket that was already replaced is ignored", () => {
    const { s, closes } = socket();
    s.connect();
    const old = last();
    old.open();
    old.readyState = 2; // closing, its close event still to come
    s.reconnectNow();
    const current = last();
    assert.notEqual(current, old);
    old.serverClose(1006);
    assert.deepEqual(closes, []);
    mock.timers.tick(60_000);
    assert.equal(sockets().length, 2);
    current.open();
    assert.equal(s.send({ type: "ping", id: 1 }), true);
    assert.equal(current.sent.length, 1);
  });
});

test("the default WebSocket and location are only looked up when not injected", () => {
  // Node has no window; constructing with both injected must not touch it.
  assert.equal(typeof globalThis.window, "undefined");
  assert.doesNotThrow(() => socket());
});
