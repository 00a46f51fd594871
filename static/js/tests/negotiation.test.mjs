import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { PerfectNegotiation } from "../negotiation.js";

// --- A fake RTCPeerConnection ----------------------------------------------------
//
// Just enough of the JSEP state machine for perfect negotiation:
// - setLocalDescription() with no argument creates an offer in "stable" (or
//   "have-local-offer") and an answer in "have-remote-offer";
// - setRemoteDescription(offer) in "have-local-offer" rolls our offer back
//   first (implicit rollback, as browsers do); an answer is only accepted in
//   "have-local-offer";
// - both run one at a time on an operations chain, like a browser's, and each
//   takes at least one event-loop turn (a browser does the work in parallel and
//   applies it in a queued task, never within the caller's microtasks), so
//   races can happen;
// - addIceCandidate() rejects when there is no remote description. It checks
//   at call time, as older browsers did, so the tests below show that the
//   ordering comes from PerfectNegotiation's own queue, not from the pc;
// - after a description is set, a couple of ICE candidates and then the
//   end-of-candidates null arrive on onicecandidate, a turn later;
// - "negotiationneeded" fires only when stable with nothing pending, and again
//   after a rollback if our change was never negotiated.

const tick = () => new Promise((resolve) => setImmediate(resolve));
async function ticks(n) {
  for (let i = 0; i < n; i += 1) await tick();
}

function domError(name, message) {
  return Object.assign(new Error(message), { name });
}

// Counts everything still in flight, so a test can wait until both sides are
// quiet. If they never are (a broken negotiation ping-pongs forever), idle()
// stops the fakes, so the test fails instead of hanging the runner.
class Activity {
  n = 0;
  stopped = false;
  track(promise) {
    this.n += 1;
    return promise.finally(() => (this.n -= 1));
  }
  async idle(limit = 2000) {
    let quiet = 0;
    for (let i = 0; i < limit; i += 1) {
      await tick();
      quiet = this.n === 0 ? quiet + 1 : 0;
      if (quiet >= 3) return;
    }
    this.stopped = true;
    throw new Error("never settled");
  }
}

class FakePeerConnection {
  constructor(name, { srdTicks = 1, sldTicks = 1, candidates = 2, activity = new Activity() } = {}) {
    if (srdTicks < 1 || sldTicks < 1) throw new Error("a real pc never finishes within the same task");
    Object.assign(this, { name, srdTicks, sldTicks, candidatesPerDescription: candidates, activity });
    this.signalingState = "stable";
    this.localDescription = null;
    this.remoteDescription = null;
    this.stableLocal = null; // what a rollback returns to
    this.stableRemote = null;
    this.calls = []; // every method call, in order
    this.applied = []; // candidates accepted, with the remote description they were applied under
    this.gathered = []; // candidates we produced, with the local description they belong to
    this.rollbacks = 0;
    this.restartIceCalls = 0;
    this.needed = false; // a local change not yet negotiated
    this.busy = 0;
    this.chain = Promise.resolve();
    this.blocked = {};
    this.seq = 0;
    this.onnegotiationneeded = null;
    this.onicecandidate = null;
  }

  // --- test controls ---
  requestNegotiation() {
    this.needed = true;
    this.#maybeFireNegotiationNeeded();
  }

  // The next `kind` operation ("srd" or "sld") waits until release() is called.
  block(kind) {
    let release;
    this.blocked[kind] = new Promise((resolve) => (release = resolve));
    return () => {
      delete this.blocked[kind];
      release();
    };
  }

  // --- RTCPeerConnection ---
  setLocalDescription(description) {
    this.calls.push(["sld", description ? description.type : "implicit"]);
    return this.#enqueue("sld", this.sldTicks, () => {
      if (description?.type === "rollback") return this.#rollback();
      if (this.signalingState === "stable" || this.signalingState === "have-local-offer") {
        this.localDescription = this.#description("offer");
        this.signalingState = "have-local-offer";
      } else if (this.signalingState === "have-remote-offer") {
        this.localDescription = this.#description("answer");
        this.#becomeStable();
      } else {
        throw domError("InvalidStateError", `sld in ${this.signalingState}`);
      }
      this.#gather(this.localDescription);
    });
  }

  setRemoteDescription(description) {
    this.calls.push(["srd", description.type]);
    return this.#enqueue("srd", this.srdTicks, () => {
      const remote = { type: description.type, sdp: description.sdp };
      if (remote.type === "offer") {
        if (this.signalingState === "have-local-offer") this.#rollback();
        if (this.signalingState !== "stable" && this.signalingState !== "have-remote-offer") {
          throw domError("InvalidStateError", `offer in ${this.signalingState}`);
        }
        this.remoteDescription = remote;
        this.signalingState = "have-remote-offer";
      } else if (remote.type === "answer") {
        if (this.signalingState !== "have-local-offer") {
          throw domError("InvalidStateError", `answer in ${this.signalingState}`);
        }
        this.remoteDescription = remote;
        this.needed = false; // our offer went through
        this.#becomeStable();
      } else if (remote.type === "rollback") {
        this.#rollback();
      }
    });
  }

  addIceCandidate(candidate) {
    this.calls.push(["addIceCandidate", candidate.candidate]);
    if (!this.remoteDescription) {
      return Promise.reject(domError("InvalidStateError", "no remote description"));
    }
    if (this.failCandidates) return Promise.reject(domError("OperationError", "bad candidate"));
    this.applied.push({ candidate: candidate.candidate, remoteSdp: this.remoteDescription.sdp });
    return Promise.resolve();
  }

  restartIce() {
    this.restartIceCalls += 1;
    this.requestNegotiation();
  }

  // --- internals ---
  #enqueue(kind, delay, step) {
    this.busy += 1;
    const run = async () => {
      try {
        await ticks(delay);
        if (this.blocked[kind]) await this.blocked[kind];
        return step();
      } finally {
        this.busy -= 1;
        this.#maybeFireNegotiationNeeded();
      }
    };
    const op = this.chain.then(run);
    this.chain = op.catch(() => {});
    this.activity.track(op).catch(() => {});
    return op;
  }

  #description(type) {
    this.seq += 1;
    const description = { type, sdp: `v=0 ${this.name} ${type} #${this.seq}` };
    // Like RTCSessionDescription: not a plain object, has toJSON.
    return Object.assign(Object.create({ toJSON() { return { type: this.type, sdp: this.sdp }; } }), description);
  }

  #rollback() {
    if (this.signalingState === "stable") throw domError("InvalidStateError", "nothing to roll back");
    this.rollbacks += 1;
    this.localDescription = this.stableLocal;
    this.remoteDescription = this.stableRemote;
    this.signalingState = "stable";
  }

  #becomeStable() {
    this.signalingState = "stable";
    this.stableLocal = this.localDescription;
    this.stableRemote = this.remoteDescription;
  }

  #gather(description) {
    this.activity.track(
      (async () => {
        await tick();
        for (let i = 0; i < this.candidatesPerDescription; i += 1) {
          const init = { candidate: `candidate:${this.name}:${description.sdp}:${i}`, sdpMid: "0", sdpMLineIndex: 0 };
          this.gathered.push({ candidate: init.candidate, forSdp: description.sdp });
          this.onicecandidate?.({ candidate: { ...init, toJSON: () => ({ ...init }) } });
        }
        this.onicecandidate?.({ candidate: null }); // end of candidates
      })(),
    );
  }

  #maybeFireNegotiationNeeded() {
    if (this.negotiationEventQueued || this.activity.stopped) return;
    this.negotiationEventQueued = true;
    this.activity.track(
      (async () => {
        await tick();
        this.negotiationEventQueued = false;
        if (this.needed && this.busy === 0 && this.signalingState === "stable") this.onnegotiationneeded?.();
      })(),
    );
  }
}

// --- Harnesses -------------------------------------------------------------------

// One PerfectNegotiation over a fake pc; we play the other side by hand.
function single({ polite, ...options }) {
  const pc = new FakePeerConnection(polite ? "patient" : "doctor", options);
  const sent = [];
  const log = [];
  const negotiation = new PerfectNegotiation({
    pc,
    polite,
    send: (data) => sent.push(data), // as handed over, before any JSON
    log: (...args) => {
      log.push(args);
    },
  });
  return { pc, sent, log, negotiation, activity: pc.activity };
}

// The first offer is the impolite peer's: the polite one ignores its own
// negotiationneeded until it has a remote description. In Chromium, when the
// polite side rolled back its own first offer on glare, the ICE candidates it
// was gathering could be lost and the call never connected; avoiding glare on
// the first exchange fixes that. Glare is still handled, for later
// renegotiations. So to test the polite side's own offers, first let it answer
// the doctor's first offer.
async function politeAfterFirstExchange(options = {}) {
  const side = single({ polite: true, ...options });
  assert.equal(await side.negotiation.handle(offer("v=0 doctor first offer")), "applied");
  await side.activity.idle();
  assert.equal(side.pc.signalingState, "stable");
  assert.deepEqual(side.sent.filter((m) => m.description).map((m) => m.description.type), ["answer"]);
  side.sent.length = 0;
  side.pc.calls.length = 0;
  return side;
}

const offer = (sdp = "v=0 remote offer") => ({ description: { type: "offer", sdp } });
const answer = (sdp = "v=0 remote answer") => ({ description: { type: "answer", sdp } });
const candidate = (c = "candidate:remote:0") => ({ candidate: { candidate: c, sdpMid: "0", sdpMLineIndex: 0 } });

// Two PerfectNegotiations talking through the server: JSON on the wire, each
// direction in order, `latency` turns per frame, as over the WebSocket.
function pair({ latency = 1, patient = {}, doctor = {} } = {}) {
  const activity = new Activity();
  const sides = {};
  for (const [role, polite, options] of [["patient", true, patient], ["doctor", false, doctor]]) {
    const pc = new FakePeerConnection(role, { activity, ...options });
    const side = { role, pc, log: [], results: [], wire: Promise.resolve() };
    side.negotiation = new PerfectNegotiation({
      pc,
      polite,
      send: (data) => {
        if (activity.stopped) return;
        const frame = JSON.stringify(data);
        const other = sides[role === "patient" ? "doctor" : "patient"];
        side.wire = activity.track(
          side.wire.then(async () => {
            await ticks(latency);
            const data = JSON.parse(frame);
            const result = await other.negotiation.handle(data);
            other.results.push([data.description?.type ?? (data.candidate ? "candidate" : "empty"), result]);
          }),
        );
      },
      log: (...args) => {
        side.log.push(args);
      },
    });
    sides[role] = side;
  }
  return { ...sides, activity };
}

// Two peers after the first exchange, which the doctor starts (see above);
// calls and results are cleared so a test sees only what follows.
async function connected(options) {
  const peers = pair(options);
  peers.doctor.pc.requestNegotiation();
  await peers.activity.idle();
  assertConverged(peers);
  assert.equal(peers.doctor.pc.localDescription.type, "offer");
  for (const side of [peers.patient, peers.doctor]) {
    side.pc.calls.length = 0;
    side.results.length = 0;
  }
  return peers;
}

const descriptionCalls = (side) => side.pc.calls.filter(([m]) => m !== "addIceCandidate").map(([m, t]) => `${m} ${t}`);
const received = (side) => side.results.filter(([type]) => type === "offer" || type === "answer");

// Both stable, each one's local description is the other's remote one, every
// candidate gathered for the descriptions in force reached the other side
// under the matching remote description, and nothing was logged.
function assertConverged({ patient, doctor }) {
  for (const [me, them] of [[patient, doctor], [doctor, patient]]) {
    assert.equal(me.pc.signalingState, "stable", `${me.role} is ${me.pc.signalingState}`);
    assert.ok(me.pc.localDescription, `${me.role} has no local description`);
    assert.equal(me.pc.localDescription.sdp, them.pc.remoteDescription?.sdp, `${me.role}'s local is not ${them.role}'s remote`);
    assert.equal(me.pc.needed, false, `${me.role} still needs negotiation`);
    const final = me.pc.gathered.filter((g) => g.forSdp === me.pc.localDescription.sdp);
    assert.equal(final.length, me.pc.candidatesPerDescription);
    for (const g of final) {
      const hit = them.pc.applied.find((a) => a.candidate === g.candidate);
      assert.ok(hit, `${me.role}'s candidate ${g.candidate} never reached ${them.role}`);
    }
    assert.deepEqual(me.log, [], `${me.role} logged ${me.log.map((l) => l.join(" ")).join("; ")}`);
  }
}

// Both sides ask to negotiate, the second `stagger` ticks after the first, over
// every timing below (3 latencies x 6 processing speeds x 4 staggers x who goes
// first = 144 runs). Each run must converge and pass `check`; a failure names
// its timing. `setUp` makes the peers: `pair` (a fresh start) or `connected`.
async function sweepBothNegotiating(setUp, check) {
  let runs = 0;
  for (const latency of [0, 1, 3]) {
    for (const srdTicks of [1, 2, 4]) {
      for (const sldTicks of [1, 3]) {
        for (const stagger of [0, 1, 2, 5]) {
          for (const first of ["patient", "doctor"]) {
            const peers = await setUp({
              latency,
              patient: { srdTicks, sldTicks },
              doctor: { srdTicks: sldTicks, sldTicks: srdTicks },
            });
            const second = first === "patient" ? "doctor" : "patient";
            peers[first].pc.requestNegotiation();
            await ticks(stagger);
            peers[second].pc.requestNegotiation();
            await peers.activity.idle();
            try {
              assertConverged(peers);
              check(peers);
            } catch (err) {
              err.message = `latency ${latency}, srd ${srdTicks}, sld ${sldTicks}, ${first} first by ${stagger}: ${err.message}`;
              throw err;
            }
            runs += 1;
          }
        }
      }
    }
  }
  return runs;
}

// --- One peer, the other side played by the test ---------------------------------

describe("PerfectNegotiation, one side", () => {
  test("negotiationneeded creates and sends an offer as a plain {type, sdp}", async () => {
    const { pc, sent, log, activity } = single({ polite: false });
    pc.requestNegotiation();
    await activity.idle();
    assert.equal(pc.signalingState, "have-local-offer");
    const offers = sent.filter((m) => m.description);
    assert.deepEqual(offers, [{ description: { type: "offer", sdp: pc.localDescription.sdp } }]);
    assert.deepEqual(log, []);
  });

  test("the polite peer's negotiationneeded before any remote description sends nothing", async () => {
    const { pc, sent, log, activity } = single({ polite: true });
    pc.requestNegotiation();
    await activity.idle();
    assert.equal(pc.remoteDescription, null);
    assert.equal(pc.signalingState, "stable");
    assert.ok(!pc.calls.some(([m]) => m === "sld"), "the polite peer started an offer of its own");
    assert.deepEqual(sent, []);
    assert.deepEqual(log, []);
  });

  test("the impolite peer's first negotiationneeded, with no remote description, sends an offer", async () => {
    const { pc, sent, log, activity } = single({ polite: false });
    let remoteAtEvent;
    const handler = pc.onnegotiationneeded;
    pc.onnegotiationneeded = () => {
      remoteAtEvent = pc.remoteDescription;
      handler();
    };
    pc.requestNegotiation();
    await activity.idle();
    assert.equal(remoteAtEvent, null);
    assert.equal(pc.signalingState, "have-local-offer");
    assert.deepEqual(sent.filter((m) => m.description), [{ description: { type: "offer", sdp: pc.localDescription.sdp } }]);
    assert.deepEqual(log, []);
  });

  test("local candidates are sent as plain toJSON() data; the end-of-candidates null is not", async () => {
    const { pc, sent, activity } = single({ polite: false });
    pc.requestNegotiation();
    await activity.idle();
    const candidates = sent.filter((m) => "candidate" in m);
    assert.equal(candidates.length, 2);
    for (const m of candidates) {
      assert.ok(m.candidate, "a null candidate was sent");
      assert.deepEqual(Object.keys(m.candidate).sort(), ["candidate", "sdpMLineIndex", "sdpMid"]);
      assert.ok(m.candidate.candidate.startsWith("candidate:doctor:"));
    }
  });

  test("an offer in stable is applied and answered", async () => {
    const { pc, sent, negotiation, log } = single({ polite: false });
    assert.equal(await negotiation.handle(offer()), "applied");
    assert.equal(pc.signalingState, "stable");
    assert.equal(pc.remoteDescription.sdp, "v=0 remote offer");
    assert.deepEqual(sent, [{ description: { type: "answer", sdp: pc.localDescription.sdp } }]);
    assert.deepEqual(log, []);
  });

  for (const [who, setup] of [
    ["the doctor's first offer", async () => single({ polite: false })],
    ["the patient's renegotiation offer", () => politeAfterFirstExchange()],
  ]) {
    test(`the answer to our offer is applied and nothing is sent back (${who})`, async () => {
      const { pc, sent, negotiation, activity, log } = await setup();
      pc.requestNegotiation();
      await activity.idle();
      assert.equal(pc.signalingState, "have-local-offer");
      sent.length = 0;
      assert.equal(await negotiation.handle(answer()), "applied");
      assert.equal(pc.signalingState, "stable");
      assert.equal(pc.remoteDescription.sdp, "v=0 remote answer");
      assert.deepEqual(sent.filter((m) => m.description), []);
      assert.deepEqual(log, []);
    });
  }

  test("the impolite peer ignores an offer that collides with its own", async () => {
    const { pc, sent, negotiation, activity } = single({ polite: false });
    pc.requestNegotiation();
    await activity.idle();
    const ours = pc.localDescription.sdp;
    sent.length = 0;
    assert.equal(await negotiation.handle(offer()), "ignored");
    assert.equal(pc.signalingState, "have-local-offer");
    assert.equal(pc.localDescription.sdp, ours);
    assert.equal(pc.rollbacks, 0);
    assert.ok(!pc.calls.some(([m]) => m === "srd"), "the colliding offer reached setRemoteDescription");
    assert.deepEqual(sent, []);
  });

  test("the impolite peer also ignores an offer that arrives while it is still creating its own", async () => {
    const { pc, sent, negotiation, activity } = single({ polite: false });
    const release = pc.block("sld");
    pc.requestNegotiation();
    await ticks(3);
    assert.equal(negotiation.makingOffer, true);
    assert.equal(pc.signalingState, "stable"); // the offer is not made yet
    const result = negotiation.handle(offer());
    release();
    assert.equal(await result, "ignored");
    await activity.idle();
    assert.equal(pc.signalingState, "have-local-offer");
    assert.ok(!pc.calls.some(([m]) => m === "srd"));
    assert.deepEqual(sent.filter((m) => m.description).map((m) => m.description.type), ["offer"]);
  });

  test("the polite peer rolls its offer back and answers the colliding one", async () => {
    const { pc, sent, negotiation, activity, log } = await politeAfterFirstExchange();
    pc.requestNegotiation();
    await activity.idle();
    assert.equal(pc.signalingState, "have-local-offer");
    sent.length = 0;
    assert.equal(await negotiation.handle(offer("v=0 doctor offer")), "applied");
    assert.equal(pc.rollbacks, 1);
    assert.equal(pc.signalingState, "stable");
    assert.equal(pc.remoteDescription.sdp, "v=0 doctor offer");
    assert.equal(pc.localDescription.type, "answer");
    assert.deepEqual(sent.filter((m) => m.description), [{ description: { type: "answer", sdp: pc.localDescription.sdp } }]);
    assert.deepEqual(log, []);
  });

  test("the polite peer answers an offer that arrives while it is still creating its own", async () => {
    const { pc, sent, negotiation, activity, log } = await politeAfterFirstExchange();
    const release = pc.block("sld");
    pc.requestNegotiation();
    await ticks(3);
    assert.equal(negotiation.makingOffer, true);
    const result = negotiation.handle(offer("v=0 doctor offer"));
    release();
    assert.equal(await result, "applied");
    assert.equal(pc.rollbacks, 1);
    assert.equal(pc.remoteDescription.sdp, "v=0 doctor offer");
    await activity.idle();
    // Its own offer went out before the rollback (the doctor will ignore it);
    // then the answer; then, its change still not negotiated, a new offer.
    assert.deepEqual(sent.filter((m) => m.description).map((m) => m.description.type), ["offer", "answer", "offer"]);
    assert.deepEqual(log, []);
  });

  test("a candidate that arrives while the offer is still being applied waits for it", async () => {
    const { pc, sent, negotiation, log } = single({ polite: false });
    const release = pc.block("srd");
    const first = negotiation.handle(offer());
    const second = negotiation.handle(candidate("candidate:remote:early"));
    await ticks(10);
    assert.equal(pc.remoteDescription, null, "setRemoteDescription finished while blocked");
    assert.ok(!pc.calls.some(([m]) => m === "addIceCandidate"), "the candidate overtook its description");
    release();
    assert.equal(await first, "applied");
    assert.equal(await second, "candidate");
    assert.deepEqual(pc.applied, [{ candidate: "candidate:remote:early", remoteSdp: "v=0 remote offer" }]);
    assert.deepEqual(pc.calls.map(([m, t]) => `${m} ${t}`), [
      "srd offer",
      "sld implicit",
      "addIceCandidate candidate:remote:early",
    ]);
    assert.equal(sent[0].description.type, "answer");
    assert.deepEqual(log, []);
  });

  test("candidates of an ignored offer fail quietly", async () => {
    const { pc, negotiation, activity, log } = single({ polite: false });
    pc.requestNegotiation();
    await activity.idle();
    assert.equal(await negotiation.handle(offer()), "ignored");
    assert.equal(await negotiation.handle(candidate("candidate:remote:1")), "candidate");
    assert.equal(await negotiation.handle(candidate("candidate:remote:2")), "candidate");
    assert.equal(pc.calls.filter(([m]) => m === "addIceCandidate").length, 2); // tried, and failed
    assert.deepEqual(pc.applied, []);
    assert.deepEqual(log, []);
  });

  test("any other candidate failure is logged", async () => {
    const { negotiation, log } = single({ polite: true });
    await negotiation.handle(candidate()); // no remote description yet
    assert.equal(log.length, 1);
    assert.equal(log[0][0], "signal failed");
    assert.equal(log[0][1].name, "InvalidStateError");
  });

  test("once a later description is applied, candidate failures are logged again", async () => {
    const { pc, negotiation, activity, log } = single({ polite: false });
    pc.requestNegotiation();
    await activity.idle();
    assert.equal(await negotiation.handle(offer()), "ignored");
    assert.equal(await negotiation.handle(answer()), "applied");
    pc.failCandidates = true;
    await negotiation.handle(candidate());
    assert.equal(log.length, 1);
    assert.equal(log[0][1].name, "OperationError");
  });

  test("a failed signal does not stop the ones after it", async () => {
    const { pc, negotiation, log } = single({ polite: false });
    await negotiation.handle(answer()); // an answer in stable: rejected
    assert.equal(log.length, 1);
    assert.equal(await negotiation.handle(offer()), "applied");
    assert.equal(pc.signalingState, "stable");
  });

  test("after a rejected answer the impolite peer still ignores colliding offers", async () => {
    // A stray answer (say, for the connection the page just replaced) fails to
    // apply; that must not leave the doctor treating the next collision as safe.
    const { pc, negotiation, activity, log } = single({ polite: false });
    await negotiation.handle(answer("v=0 stale answer"));
    assert.equal(log.length, 1);
    pc.requestNegotiation();
    await activity.idle();
    assert.equal(pc.signalingState, "have-local-offer");
    assert.equal(await negotiation.handle(offer()), "ignored");
    assert.equal(pc.rollbacks, 0);
    assert.equal(pc.signalingState, "have-local-offer");
  });

  test("a message with neither description nor candidate does nothing", async () => {
    const { pc, sent, negotiation, log } = single({ polite: true });
    assert.equal(await negotiation.handle({}), "empty");
    assert.deepEqual(pc.calls, []);
    assert.deepEqual(sent, []);
    assert.deepEqual(log, []);
  });

  test("a failure to create the offer is logged and clears makingOffer", async () => {
    const { pc, sent, negotiation, log } = single({ polite: false });
    pc.setLocalDescription = async () => {
      throw domError("OperationError", "no");
    };
    await negotiation.negotiate();
    assert.equal(negotiation.makingOffer, false);
    assert.deepEqual(sent, []);
    assert.equal(log.length, 1);
    assert.equal(log[0][0], "negotiation failed");
  });

  test("restartIce asks the connection for an ICE restart", async () => {
    const { pc, negotiation, activity } = single({ polite: false });
    negotiation.restartIce();
    assert.equal(pc.restartIceCalls, 1);
    await activity.idle(); // and the renegotiation that follows goes out
    assert.equal(pc.signalingState, "have-local-offer");
  });

  test("restartIce is a no-op on a connection without it", () => {
    const pc = new FakePeerConnection("old");
    pc.restartIce = undefined;
    const negotiation = new PerfectNegotiation({ pc, polite: true, send: () => {} });
    assert.doesNotThrow(() => negotiation.restartIce());
  });
});

// --- Two peers talking to each other ---------------------------------------------

describe("PerfectNegotiation, two peers", { timeout: 10_000 }, () => {
  test("the doctor offers, the patient answers", async () => {
    const peers = pair();
    peers.doctor.pc.requestNegotiation();
    await peers.activity.idle();
    assertConverged(peers);
    assert.equal(peers.doctor.pc.localDescription.type, "offer");
    assert.equal(peers.patient.pc.rollbacks + peers.doctor.pc.rollbacks, 0);
  });

  test("after the first exchange, the patient offers, the doctor answers", async () => {
    const peers = await connected();
    peers.patient.pc.requestNegotiation();
    await peers.activity.idle();
    assertConverged(peers);
    assert.equal(peers.patient.pc.localDescription.type, "offer");
    assert.deepEqual(received(peers.doctor), [["offer", "applied"]]);
    assert.equal(peers.patient.pc.rollbacks + peers.doctor.pc.rollbacks, 0);
  });

  test("both add tracks at once at the start: only the doctor offers, the patient answers, no glare", async () => {
    const peers = pair();
    const { patient, doctor } = peers;
    patient.pc.requestNegotiation();
    doctor.pc.requestNegotiation();
    await peers.activity.idle();
    assertConverged(peers);
    assert.equal(patient.pc.rollbacks, 0, "the patient rolled an offer back");
    assert.equal(doctor.pc.rollbacks, 0);
    // The first exchange: one offer, the doctor's, answered by the patient.
    // Its own change still not negotiated, the patient then offers it, now
    // that it has a remote description: a second, glare-free exchange.
    assert.deepEqual(descriptionCalls(patient), [
      "srd offer", // the doctor's, before the patient offered anything
      "sld implicit", // the answer
      "sld implicit", // negotiationneeded again: its own offer
      "srd answer",
    ]);
    assert.deepEqual(descriptionCalls(doctor), ["sld implicit", "srd answer", "srd offer", "sld implicit"]);
    assert.deepEqual(received(patient), [["offer", "applied"], ["answer", "applied"]]);
    assert.deepEqual(received(doctor), [["answer", "applied"], ["offer", "applied"]]);
  });

  test("after the first exchange the patient renegotiates (adds a track later), and glare is still resolved", async () => {
    const peers = await connected();
    const { patient, doctor } = peers;
    patient.pc.requestNegotiation(); // say, the camera comes on
    await peers.activity.idle();
    assertConverged(peers);
    assert.equal(patient.pc.localDescription.type, "offer");
    assert.equal(patient.pc.rollbacks, 0);
    doctor.results.length = 0;
    patient.results.length = 0;
    patient.pc.requestNegotiation();
    doctor.pc.requestNegotiation();
    await peers.activity.idle();
    assertConverged(peers);
    assert.deepEqual(received(doctor)[0], ["offer", "ignored"]);
    assert.equal(doctor.pc.rollbacks, 0);
    assert.deepEqual(received(patient)[0], ["offer", "applied"]);
    assert.equal(patient.pc.rollbacks, 1);
  });

  test("glare after the first exchange: both offer at once; the doctor ignores, the patient rolls back and answers", async () => {
    const peers = await connected();
    const { patient, doctor } = peers;
    patient.pc.requestNegotiation();
    doctor.pc.requestNegotiation();
    await peers.activity.idle();
    assertConverged(peers);
    // The doctor never applied the patient's colliding offer...
    assert.deepEqual(doctor.results[0], ["offer", "ignored"]);
    assert.equal(doctor.pc.rollbacks, 0);
    // ...the patient rolled back and answered the doctor's, then made its own
    // offer again because its change was still not negotiated.
    assert.deepEqual(patient.results[0], ["offer", "applied"]);
    assert.equal(patient.pc.rollbacks, 1);
    assert.deepEqual(descriptionCalls(patient), [
      "sld implicit", // its offer
      "srd offer", // the doctor's: implicit rollback
      "sld implicit", // the answer
      "sld implicit", // negotiationneeded again: a new offer
      "srd answer",
    ]);
    assert.deepEqual(descriptionCalls(doctor), ["sld implicit", "srd answer", "srd offer", "sld implicit"]);
  });

  test("a start where both want to negotiate converges without glare whatever the timing", async () => {
    const runs = await sweepBothNegotiating(pair, (peers) => {
      assert.equal(peers.patient.pc.rollbacks + peers.doctor.pc.rollbacks, 0, "a rollback");
      assert.equal(descriptionCalls(peers.patient)[0], "srd offer", "the patient offered first");
      assert.ok(!received(peers.doctor).some(([, r]) => r === "ignored"), "an offer was ignored");
    });
    assert.equal(runs, 144);
  });

  test("glare on renegotiation converges whatever the timing", async () => {
    const runs = await sweepBothNegotiating(connected, (peers) => {
      assert.equal(peers.doctor.pc.rollbacks, 0, "the impolite peer rolled back");
    });
    assert.equal(runs, 144);
  });

  test("renegotiation after the call is up, from either side, with an ICE restart", async () => {
    const peers = pair();
    peers.doctor.pc.requestNegotiation();
    await peers.activity.idle();
    assertConverged(peers);
    peers.patient.negotiation.restartIce();
    await peers.activity.idle();
    assertConverged(peers);
    assert.equal(peers.patient.pc.localDescription.type, "offer");
    peers.doctor.negotiation.restartIce();
    peers.patient.negotiation.restartIce();
    await peers.activity.idle();
    assertConverged(peers);
  });
});
