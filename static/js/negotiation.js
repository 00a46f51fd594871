// The "perfect negotiation" pattern (W3C WebRTC spec, section 10.7), kept apart
// from the page so it can be tested: either side may (re)negotiate at any time,
// the polite peer (the patient) rolls back on glare, the impolite one (the
// doctor) ignores the colliding offer. Incoming signals are handled one at a
// time, in order, so a candidate never overtakes the description it belongs to.

export class PerfectNegotiation {
  constructor({ pc, polite, send, log = () => {} }) {
    this.pc = pc;
    this.polite = polite;
    this.send = send;
    this.log = log;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.isSettingRemoteAnswerPending = false;
    this.queue = Promise.resolve();
    pc.onnegotiationneeded = () => {
      // The impolite peer makes the first offer and the polite one answers it.
      // Glare is still handled below, but avoiding it on the first exchange
      // matters: Chromium can lose the ICE candidates of an offer the polite
      // side rolls back, and the call then never connects.
      if (this.polite && !pc.remoteDescription) return;
      this.negotiate();
    };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.send({ candidate: candidate.toJSON ? candidate.toJSON() : candidate });
    };
  }

  async negotiate() {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.send({ description: plain(this.pc.localDescription) });
    } catch (err) {
      this.log("negotiation failed", err);
    } finally {
      this.makingOffer = false;
    }
  }

  // Ask for a fresh ICE gathering (network changed or the connection failed).
  restartIce() {
    if (typeof this.pc.restartIce === "function") this.pc.restartIce();
  }

  handle(data) {
    this.queue = this.queue.then(() => this.#handle(data)).catch((err) => this.log("signal failed", err));
    return this.queue;
  }

  async #handle({ description, candidate }) {
    const pc = this.pc;
    if (description) {
      const readyForOffer =
        !this.makingOffer && (pc.signalingState === "stable" || this.isSettingRemoteAnswerPending);
      const offerCollision = description.type === "offer" && !readyForOffer;
      this.ignoreOffer = !this.polite && offerCollision;
      if (this.ignoreOffer) return "ignored";
      this.isSettingRemoteAnswerPending = description.type === "answer";
      try {
        await pc.setRemoteDescription(description); // rolls back our offer on glare (polite)
      } finally {
        // Also when it fails (a stray answer): left set, the impolite peer
        // would take its next colliding offer for a safe one.
        this.isSettingRemoteAnswerPending = false;
      }
      if (description.type === "offer") {
        await pc.setLocalDescription();
        this.send({ description: plain(pc.localDescription) });
      }
      return "applied";
    }
    if (candidate) {
      try {
        await pc.addIceCandidate(candidate);
      } catch (err) {
        if (!this.ignoreOffer) throw err; // candidates of an ignored offer are expected to fail
      }
      return "candidate";
    }
    return "empty";
  }
}

function plain(description) {
  return description && { type: description.type, sdp: description.sdp };
}
