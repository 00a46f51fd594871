import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { BitrateController, MAX_VIDEO_KBPS, MIN_VIDEO_KBPS, classify, summarize } from "../quality.js";

// A getStats() report is a Map of id -> stats; call.js passes report.values().
function report(...stats) {
  return new Map(stats.map((s, i) => [s.id || `s${i}`, s])).values();
}

const pair = (extra = {}) => ({ type: "candidate-pair", state: "succeeded", nominated: true, currentRoundTripTime: 0.042, ...extra });
const inbound = (extra = {}) => ({ type: "inbound-rtp", kind: "video", packetsLost: 0, packetsReceived: 0, bytesReceived: 0, ...extra });
const outbound = (extra = {}) => ({ type: "outbound-rtp", kind: "video", bytesSent: 0, packetsSent: 0, ...extra });

describe("summarize", () => {
  test("round-trip time comes from the succeeded candidate pair, in milliseconds", () => {
    const s = summarize(report(pair({ currentRoundTripTime: 0.125 })), null, 1000);
    assert.equal(s.rttMs, 125);
  });

  test("pairs that are not in use give no round-trip time", () => {
    const s = summarize(
      report(
        pair({ state: "in-progress", currentRoundTripTime: 0.5 }),
        pair({ nominated: false, currentRoundTripTime: 0.7 }),
        pair({ currentRoundTripTime: undefined }),
      ),
      null,
      1000,
    );
    assert.equal(s.rttMs, null);
  });

  test("a pair without the nominated field still counts (older browsers)", () => {
    const s = summarize(report({ type: "candidate-pair", state: "succeeded", currentRoundTripTime: 0.2 }), null, 0);
    assert.equal(s.rttMs, 200);
  });

  test("counters add up over the audio and video streams; remote reports are left out", () => {
    const s = summarize(
      report(
        inbound({ kind: "audio", packetsLost: 1, packetsReceived: 100, bytesReceived: 10_000 }),
        inbound({ kind: "video", packetsLost: 4, packetsReceived: 300, bytesReceived: 90_000 }),
        inbound({ isRemote: true, packetsLost: 999, packetsReceived: 999, bytesReceived: 999 }),
        outbound({ kind: "audio", bytesSent: 5_000 }),
        outbound({ kind: "video", bytesSent: 45_000 }),
        outbound({ isRemote: true, bytesSent: 999 }),
        { type: "remote-inbound-rtp", packetsLost: 77, roundTripTime: 3 },
        { type: "transport", bytesSent: 123456 },
      ),
      null,
      1000,
    );
    assert.deepEqual(
      { lost: s.packetsLost, received: s.packetsReceived, in: s.bytesIn, out: s.bytesOut },
      { lost: 5, received: 400, in: 100_000, out: 50_000 },
    );
  });

  test("the first sample has counters but no rates", () => {
    const s = summarize(report(pair(), inbound({ packetsReceived: 10, bytesReceived: 1000 })), null, 5000);
    assert.equal(s.at, 5000);
    assert.equal(s.lossPct, null);
    assert.equal(s.kbpsIn, null);
    assert.equal(s.kbpsOut, null);
  });

  test("rates come from the difference with the previous sample over the time between them", () => {
    const first = summarize(
      report(inbound({ packetsLost: 10, packetsReceived: 1000, bytesReceived: 100_000 }), outbound({ bytesSent: 40_000 })),
      null,
      10_000,
    );
    // Two seconds later: 250 000 more bytes in, 125 000 more out, 5 of 100 new packets lost.
    const second = summarize(
      report(inbound({ packetsLost: 15, packetsReceived: 1095, bytesReceived: 350_000 }), outbound({ bytesSent: 165_000 })),
      first,
      12_000,
    );
    assert.equal(second.kbpsIn, 1000); // 250 000 B * 8 / 1000 / 2 s
    assert.equal(second.kbpsOut, 500);
    assert.equal(second.lossPct, 5); // 5 lost of 5 + 95
    assert.equal(second.packetsLost, 15);
    assert.equal(second.bytesIn, 350_000);
  });

  test("loss is measured on the new packets only, not the whole call", () => {
    const first = summarize(report(inbound({ packetsLost: 500, packetsReceived: 500 })), null, 0);
    const second = summarize(report(inbound({ packetsLost: 500, packetsReceived: 600 })), first, 1000);
    assert.equal(second.lossPct, 0);
  });

  test("no new packets means loss is unknown, not zero or NaN", () => {
    const first = summarize(report(inbound({ packetsLost: 3, packetsReceived: 50 })), null, 0);
    const second = summarize(report(inbound({ packetsLost: 3, packetsReceived: 50 })), first, 1000);
    assert.equal(second.lossPct, null);
    assert.equal(second.kbpsIn, 0);
  });

  test("counters going backwards (RTCP corrections) never give negative numbers", () => {
    const first = summarize(report(inbound({ packetsLost: 10, packetsReceived: 100, bytesReceived: 5000 })), null, 0);
    const second = summarize(report(inbound({ packetsLost: 8, packetsReceived: 150, bytesReceived: 4000 })), first, 1000);
    assert.equal(second.lossPct, 0);
    assert.equal(second.kbpsIn, 0);
  });

  test("no time elapsed gives no rates rather than Infinity", () => {
    const first = summarize(report(inbound({ bytesReceived: 1000 })), null, 1000);
    const second = summarize(report(inbound({ bytesReceived: 2000 })), first, 1000);
    assert.equal(second.kbpsIn, null);
    assert.equal(second.kbpsOut, null);
  });

  test("a plain array works as the report too", () => {
    const s = summarize([pair({ currentRoundTripTime: 0.3 })], null, 0);
    assert.equal(s.rttMs, 300);
  });
});

describe("classify", () => {
  test("nothing measured is unknown", () => {
    assert.equal(classify({ rttMs: null, lossPct: null }), "unknown");
    assert.equal(classify({}), "unknown");
  });

  test("low round trip and low loss is good", () => {
    assert.equal(classify({ rttMs: 0, lossPct: 0 }), "good");
    assert.equal(classify({ rttMs: 299, lossPct: 2.9 }), "good");
    assert.equal(classify({ rttMs: 80, lossPct: null }), "good");
    assert.equal(classify({ rttMs: null, lossPct: 1 }), "good");
  });

  test("fair from 300 ms or 3 % loss", () => {
    assert.equal(classify({ rttMs: 300, lossPct: 0 }), "fair");
    assert.equal(classify({ rttMs: 599, lossPct: 0 }), "fair");
    assert.equal(classify({ rttMs: 50, lossPct: 3 }), "fair");
    assert.equal(classify({ rttMs: 50, lossPct: 7.9 }), "fair");
    assert.equal(classify({ rttMs: null, lossPct: 3 }), "fair");
  });

  test("poor from 600 ms or 8 % loss, whichever the other measure says", () => {
    assert.equal(classify({ rttMs: 600, lossPct: 0 }), "poor");
    assert.equal(classify({ rttMs: 10, lossPct: 8 }), "poor");
    assert.equal(classify({ rttMs: 1500, lossPct: null }), "poor");
    assert.equal(classify({ rttMs: null, lossPct: 40 }), "poor");
  });
});

describe("BitrateController", () => {
  const GOOD = { rttMs: 50, lossPct: 0 };
  const POOR = { rttMs: 900, lossPct: 20 };
  const FAIR = { rttMs: 400, lossPct: 0 };
  const UNKNOWN = { rttMs: null, lossPct: null };

  test("starts at 500 kbps", () => {
    assert.equal(MAX_VIDEO_KBPS, 500);
    assert.equal(new BitrateController().kbps, 500);
  });

  test("one bad sample is not enough to step down", () => {
    const c = new BitrateController();
    assert.equal(c.update(POOR), null);
    assert.equal(c.kbps, 500);
  });

  test("two bad samples in a row step down", () => {
    const c = new BitrateController();
    c.update(POOR);
    const next = c.update(FAIR);
    assert.equal(next, 350);
    assert.equal(c.kbps, 350);
  });

  test("a good sample in between resets the bad streak", () => {
    const c = new BitrateController();
    assert.equal(c.update(POOR), null);
    assert.equal(c.update(GOOD), null);
    assert.equal(c.update(POOR), null);
    assert.equal(c.kbps, 500);
  });

  test("unknown samples change nothing", () => {
    const c = new BitrateController();
    c.update(POOR);
    assert.equal(c.update(UNKNOWN), null);
    assert.equal(c.kbps, 500);
    assert.equal(c.update(POOR), 350); // the streak survived the unknown sample
  });

  test("after a step down it takes another sustained stretch to step again", () => {
    const c = new BitrateController();
    c.update(POOR);
    assert.equal(c.update(POOR), 350);
    assert.equal(c.update(POOR), null);
    assert.equal(c.update(POOR), 245);
  });

  test("never goes below the minimum, and says nothing once there", () => {
    const c = new BitrateController();
    const changes = [];
    for (let i = 0; i < 40; i += 1) {
      const next = c.update(POOR);
      if (next !== null) changes.push(next);
    }
    assert.equal(c.kbps, MIN_VIDEO_KBPS);
    assert.deepEqual(changes, [350, 245, 172, 150]);
    assert.ok(changes.every((k) => k >= MIN_VIDEO_KBPS));
  });

  test("climbs back after three good samples in a row, not before", () => {
    const c = new BitrateController();
    for (let i = 0; i < 4; i += 1) c.update(POOR); // 500 -> 350 -> 245
    assert.equal(c.kbps, 245);
    assert.equal(c.update(GOOD), null);
    assert.equal(c.update(GOOD), null);
    assert.equal(c.update(GOOD), 306);
    assert.equal(c.update(GOOD), null);
  });

  test("a bad sample resets the good streak", () => {
    const c = new BitrateController();
    c.update(POOR);
    c.update(POOR); // 350
    c.update(GOOD);
    c.update(GOOD);
    assert.equal(c.update(POOR), null);
    assert.equal(c.update(GOOD), null);
    assert.equal(c.kbps, 350);
  });

  test("never climbs above 500, and says nothing once there", () => {
    const c = new BitrateController();
    for (let i = 0; i < 40; i += 1) c.update(POOR);
    const changes = [];
    for (let i = 0; i < 60; i += 1) {
      const next = c.update(GOOD);
      if (next !== null) changes.push(next);
    }
    assert.equal(c.kbps, MAX_VIDEO_KBPS);
    assert.equal(changes.at(-1), 500);
    assert.ok(changes.every((k) => k <= MAX_VIDEO_KBPS));
    for (let i = 1; i < changes.length; i += 1) assert.ok(changes[i] > changes[i - 1]);
  });

  test("at 500 with good samples, nothing changes", () => {
    const c = new BitrateController();
    for (let i = 0; i < 10; i += 1) assert.equal(c.update(GOOD), null);
  });

  test("custom limits are honoured", () => {
    const c = new BitrateController({ max: 1000, min: 600, badToDrop: 1, goodToRaise: 1 });
    assert.equal(c.update(POOR), 700);
    assert.equal(c.update(POOR), 600);
    assert.equal(c.update(POOR), null);
    assert.equal(c.update(GOOD), 750);
    assert.equal(c.update(GOOD), 938);
    assert.equal(c.update(GOOD), 1000);
    assert.equal(c.update(GOOD), null);
  });
});
