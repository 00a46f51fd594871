// The call page: pre-join preview, the call itself, presence and controls.
// Wires together the signaling socket, perfect negotiation, media and quality.

import { PerfectNegotiation } from "./negotiation.js";
import { SignalingSocket } from "./signaling.js";
import { browserFamily, failureKind, fillSelect, getMedia, listDevices } from "./media.js";
import { BitrateController, classify, summarize } from "./quality.js";

const config = JSON.parse(document.getElementById("call-config").textContent);
const T = JSON.parse(document.getElementById("call-strings").textContent);
const $ = (id) => document.getElementById(id);
const fmt = (template, values) => template.replace(/%\((\w+)\)s/g, (_, k) => values[k] ?? "");

const STATS_EVERY_MS = 10_000;
const DISCONNECTED_GRACE_MS = 4_000;

const state = {
  stream: null,
  wantVideo: true,
  micOn: true,
  camOn: true,
  pc: null,
  negotiation: null,
  socket: null,
  peer: null,
  peerPresent: false,
  joined: false,
  timerStart: null,
  timerHandle: null,
  statsHandle: null,
  previousSample: null,
  bitrate: new BitrateController(),
  disconnectedTimer: null,
  ended: false,
};

// --- Toasts and status --------------------------------------------------------

function toast(text, kind = "info") {
  const el = document.createElement("div");
  el.className = `call-toast call-toast-${kind}`;
  el.setAttribute("role", "status");
  el.textContent = text;
  $("toasts").append(el);
  setTimeout(() => el.remove(), 5000);
}

function setPeerStatus(status) {
  const badge = $("peer-status");
  badge.dataset.status = status;
  badge.textContent = T[`status_${status}`];
  document.body.dataset.peerStatus = status;
  updatePlaceholder();
}

// The placeholder covers the remote video whenever there is none to show; it
// says why: nobody there yet, or someone there with the camera off.
function updatePlaceholder() {
  const text = $("remote-placeholder-text");
  const cameraOff = state.peerPresent && document.body.dataset.peerVideo === "off";
  text.textContent = cameraOff ? text.dataset.cameraOff : text.dataset.waiting;
}

function setBanner(text, { kind = "warning", action = null } = {}) {
  const banner = $("call-banner");
  if (!text) {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  banner.className = `call-banner alert alert-${kind}`;
  $("call-banner-text").textContent = text;
  const button = $("call-banner-action");
  button.hidden = !action;
  if (action) {
    button.textContent = action.label;
    button.onclick = action.run;
  }
}

// --- Pre-join -------------------------------------------------------------------

async function startPreview() {
  stopStream();
  $("media-help").hidden = true;
  try {
    state.stream = await getMedia({
      videoDeviceId: $("camera-select").value || undefined,
      audioDeviceId: $("mic-select").value || undefined,
      video: state.wantVideo,
    });
    $("preview").srcObject = state.stream;
    $("join-button").disabled = false;
    await refreshDevices();
  } catch (error) {
    showMediaHelp(error);
  }
}

function showMediaHelp(error) {
  const kind = failureKind(error);
  const browser = browserFamily(navigator.userAgent);
  $("media-help-title").textContent = T[`help_${kind}_title`];
  $("media-help-text").textContent = T[`help_${kind}`];
  const steps = kind === "denied" ? T[`steps_${browser}`] || T.steps_other : "";
  $("media-help-steps").textContent = steps;
  $("media-help-steps").hidden = !steps;
  $("media-help").hidden = false;
  $("join-button").disabled = true;
}

async function refreshDevices() {
  try {
    const { cameras, microphones } = await listDevices();
    const videoTrack = state.stream?.getVideoTracks()[0];
    const audioTrack = state.stream?.getAudioTracks()[0];
    for (const select of document.querySelectorAll("[data-device=camera]"))
      fillSelect(select, cameras, videoTrack?.getSettings().deviceId, T.camera);
    for (const select of document.querySelectorAll("[data-device=mic]"))
      fillSelect(select, microphones, audioTrack?.getSettings().deviceId, T.microphone);
  } catch {
    /* device labels are a nicety */
  }
}

function stopStream() {
  state.stream?.getTracks().forEach((t) => t.stop());
  state.stream = null;
}

// --- Joining and the peer connection ------------------------------------------------

async function join({ withCamera }) {
  if (!withCamera) {
    state.wantVideo = false;
    state.camOn = false;
    stopStream();
    try {
      state.stream = await getMedia({ video: false, audioDeviceId: $("mic-select").value || undefined });
    } catch {
      state.stream = new MediaStream(); // listen and watch only
      state.micOn = false;
    }
  }
  state.joined = true;
  $("prejoin").hidden = true;
  $("call").hidden = false;
  document.body.classList.add("in-call");
  $("local-video").srcObject = state.stream;
  updateControls();
  setPeerStatus("waiting");
  state.socket = new SignalingSocket(config.ws_path, { onFrame, onOpen, onClose });
  state.socket.connect();
  window.addEventListener("online", () => {
    state.socket.reconnectNow();
    state.negotiation?.restartIce();
  });
  state.statsHandle = setInterval(sampleStats, STATS_EVERY_MS);
}

function newPeerConnection(iceServers) {
  closePeerConnection();
  const pc = new RTCPeerConnection({ iceServers });
  // addTrack, not addTransceiver: when both sides offer at once (glare), the
  // polite side's rollback lets the remote offer reuse transceivers made by
  // addTrack; ones made by addTransceiver would be duplicated instead.
  const stream = state.stream || new MediaStream();
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  if (!state.polite) {
    // The impolite side (the doctor) makes the first offer, so it must ask to
    // receive what it does not send (joined without camera or microphone).
    for (const kind of ["audio", "video"]) {
      if (!stream.getTracks().some((t) => t.kind === kind)) {
        pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }
  }
  pc.ontrack = ({ track, streams }) => {
    const video = $("remote-video");
    video.srcObject = streams[0] || new MediaStream([track]);
  };
  pc.onconnectionstatechange = () => onConnectionState(pc.connectionState);
  state.pc = pc;
  state.previousSample = null;
  state.negotiation = new PerfectNegotiation({
    pc,
    polite: state.polite,
    send: (data) => state.socket.send({ type: "signal", data }),
    log: (...args) => console.warn(...args),
  });
  applyBitrate(state.bitrate.kbps);
}

// The sender carrying our `kind` track, if any.
function senderFor(kind) {
  return state.pc?.getSenders().find((s) => s.track?.kind === kind) || null;
}

// Put a new local track on the call: replace the old one, or add it (which
// triggers a renegotiation through the perfect-negotiation block).
async function sendTrack(track) {
  if (!state.pc) return;
  const sender = senderFor(track.kind);
  if (sender) await sender.replaceTrack(track);
  else state.pc.addTrack(track, state.stream);
}

function closePeerConnection() {
  if (state.pc) {
    state.pc.onconnectionstatechange = null;
    state.pc.close();
  }
  state.pc = null;
  delete document.body.dataset.connection;
  $("remote-video").srcObject = null;
}

function onConnectionState(connection) {
  document.body.dataset.connection = connection;
  clearTimeout(state.disconnectedTimer);
  if (connection === "connected") {
    setPeerStatus("connected");
    setBanner(null);
    startTimer();
  } else if (connection === "failed") {
    state.negotiation?.restartIce();
  } else if (connection === "disconnected") {
    setPeerStatus("reconnecting");
    state.disconnectedTimer = setTimeout(() => state.negotiation?.restartIce(), DISCONNECTED_GRACE_MS);
  }
}

// --- Frames from the server ----------------------------------------------------------

function onOpen() {
  setBanner(null);
}

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
      state.polite = frame.polite;
      state.iceServers = frame.ice_servers;
      state.self = frame.self;
      sendMedia();
      if (frame.peers.length) {
        peerArrived(frame.peers[0], { announce: false });
      } else {
        state.peerPresent = false;
        closePeerConnection();
        setPeerStatus("waiting");
      }
      break;
    case "peer-joined":
      peerArrived(frame.peer, { announce: true });
      break;
    case "peer-left":
      if (frame.reason === "replaced") break; // they reopened the call elsewhere; peer-joined follows
      state.peerPresent = false;
      closePeerConnection();
      if (frame.reason === "lost") {
        setPeerStatus("reconnecting");
        toast(fmt(T.toast_lost, { name: state.peer?.name || "" }), "warning");
      } else {
        setPeerStatus("left");
        toast(fmt(T.toast_left, { name: state.peer?.name || "" }));
      }
      stopTimer();
      break;
    case "peer-media":
      showPeerMedia(frame.peer);
      break;
    case "signal":
      state.negotiation?.handle(frame.data);
      break;
    case "ended":
      finishedByServer(frame);
      break;
    case "error":
      console.warn("signaling error", frame.code, frame.detail);
      break;
    default:
      break;
  }
}

function peerArrived(peer, { announce }) {
  state.peer = peer;
  state.peerPresent = true;
  $("peer-name").textContent = peer.name;
  showPeerMedia(peer);
  setPeerStatus("joining");
  if (announce) toast(fmt(T.toast_joined, { name: peer.name }), "success");
  newPeerConnection(state.iceServers);
}

function showPeerMedia(peer) {
  $("peer-mic-off").hidden = peer.audio !== false;
  $("peer-cam-off").hidden = peer.video !== false;
  document.body.dataset.peerVideo = peer.video === false ? "off" : "on";
  updatePlaceholder();
}

function onClose({ code, retry }) {
  if (state.ended) return;
  if (code === 4410) return finishedByServer(null);
  if (retry) {
    setPeerStatus(state.peerPresent ? "reconnecting" : "waiting");
    setBanner(T.banner_reconnecting, { kind: "warning" });
    return;
  }
  closePeerConnection();
  const messages = { 4401: T.close_4401, 4403: T.close_4403, 4404: T.close_4404, 4409: T.close_4409 };
  const action =
    code === 4409
      ? { label: T.use_here, run: () => { state.socket = new SignalingSocket(config.ws_path, { onFrame, onOpen, onClose }); state.socket.connect(); } }
      : code === 4401
        ? { label: T.sign_in, run: () => window.location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname)}`) }
        : null;
  setBanner(messages[code] || T.close_other, { kind: "danger", action });
}

function finishedByServer(frame) {
  state.ended = true;
  stopTimer();
  clearInterval(state.statsHandle);
  closePeerConnection();
  stopStream();
  const who = frame?.by?.name;
  setBanner(who ? fmt(T.ended_by, { name: who }) : T.ended, { kind: "info" });
  setTimeout(() => window.location.assign(config.ended_url), 1500);
}

// --- Controls -----------------------------------------------------------------

function sendMedia() {
  state.socket?.send({ type: "media", audio: state.micOn, video: state.camOn });
}

function updateControls() {
  const audio = state.stream?.getAudioTracks()[0];
  const video = state.stream?.getVideoTracks()[0];
  if (audio) audio.enabled = state.micOn;
  if (video) video.enabled = state.camOn;
  const mic = $("toggle-mic");
  mic.setAttribute("aria-pressed", String(!state.micOn));
  mic.setAttribute("aria-label", state.micOn ? T.mute_mic : T.unmute_mic);
  mic.querySelector("i").className = `bi ${state.micOn ? "bi-mic-fill" : "bi-mic-mute-fill"}`;
  mic.classList.toggle("is-off", !state.micOn);
  const cam = $("toggle-cam");
  cam.setAttribute("aria-pressed", String(!state.camOn));
  cam.setAttribute("aria-label", state.camOn ? T.camera_off : T.camera_on);
  cam.querySelector("i").className = `bi ${state.camOn ? "bi-camera-video-fill" : "bi-camera-video-off-fill"}`;
  cam.classList.toggle("is-off", !state.camOn);
  $("local-tile").dataset.video = state.camOn && video ? "on" : "off";
}

async function toggleCamera() {
  if (!state.stream?.getVideoTracks().length) {
    // Joined without a camera: turning it on asks for it now.
    try {
      const media = await getMedia({ video: true, videoDeviceId: $("camera-select-call").value || undefined });
      const track = media.getVideoTracks()[0];
      media.getAudioTracks().forEach((t) => t.stop());
      state.stream.addTrack(track);
      await sendTrack(track);
      $("local-video").srcObject = state.stream;
      state.camOn = true;
      await refreshDevices();
    } catch (error) {
      toast(T[`help_${failureKind(error)}`], "warning");
      return;
    }
  } else {
    state.camOn = !state.camOn;
  }
  updateControls();
  sendMedia();
}

async function switchDevice(kind, deviceId) {
  if (!deviceId) return;
  try {
    const media = await getMedia(kind === "video" ? { videoDeviceId: deviceId } : { video: false, audioDeviceId: deviceId });
    const track = kind === "video" ? media.getVideoTracks()[0] : media.getAudioTracks()[0];
    media.getTracks().filter((t) => t !== track).forEach((t) => t.stop());
    const old = kind === "video" ? state.stream.getVideoTracks()[0] : state.stream.getAudioTracks()[0];
    if (old) {
      state.stream.removeTrack(old);
      old.stop();
    }
    state.stream.addTrack(track);
    await sendTrack(track);
    $("local-video").srcObject = state.stream;
    updateControls();
  } catch (error) {
    toast(T[`help_${failureKind(error)}`], "warning");
  }
}

function leave() {
  state.ended = true;
  state.socket?.close();
  closePeerConnection();
  stopStream();
  stopTimer();
  clearInterval(state.statsHandle);
  $("call").hidden = true;
  $("left").hidden = false;
  document.body.classList.remove("in-call");
}

// --- Timer and quality --------------------------------------------------------------

function startTimer() {
  if (state.timerHandle) return;
  state.timerStart = state.timerStart || Date.now();
  const tick = () => {
    const s = Math.floor((Date.now() - state.timerStart) / 1000);
    const hh = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    $("call-timer").textContent = hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
  };
  tick();
  state.timerHandle = setInterval(tick, 1000);
}

function stopTimer() {
  clearInterval(state.timerHandle);
  state.timerHandle = null;
}

async function sampleStats() {
  if (!state.pc || state.pc.connectionState !== "connected") return;
  const report = await state.pc.getStats();
  const sample = summarize(report.values(), state.previousSample);
  state.previousSample = sample;
  const verdict = classify(sample);
  const badge = $("quality");
  badge.dataset.quality = verdict;
  badge.querySelector("span").textContent = T[`quality_${verdict}`];
  badge.title = sample.rttMs != null ? `${Math.round(sample.rttMs)} ms` : "";
  if (verdict === "poor") toast(T.quality_poor_help, "warning");
  const frame = { type: "stats" };
  for (const [key, name] of [["rttMs", "rtt_ms"], ["lossPct", "loss_pct"], ["kbpsIn", "kbps_in"], ["kbpsOut", "kbps_out"]]) {
    if (sample[key] != null) frame[name] = Math.round(sample[key] * 10) / 10;
  }
  state.socket?.send(frame);
  const capped = state.bitrate.update(sample);
  if (capped) applyBitrate(capped);
}

async function applyBitrate(kbps) {
  const sender = senderFor("video");
  if (!sender?.getParameters) return;
  const params = sender.getParameters();
  if (!params.encodings?.length) params.encodings = [{}];
  params.encodings[0].maxBitrate = kbps * 1000;
  try {
    await sender.setParameters(params);
  } catch {
    /* not negotiated yet: applied on the next sample */
  }
}

// --- Wiring -------------------------------------------------------------------------

$("join-button").addEventListener("click", () => join({ withCamera: true }));
$("join-audio-button").addEventListener("click", () => join({ withCamera: false }));
$("retry-media").addEventListener("click", startPreview);
$("camera-select").addEventListener("change", startPreview);
$("mic-select").addEventListener("change", startPreview);
$("toggle-mic").addEventListener("click", () => {
  state.micOn = !state.micOn;
  updateControls();
  sendMedia();
});
$("toggle-cam").addEventListener("click", toggleCamera);
$("camera-select-call").addEventListener("change", (e) => switchDevice("video", e.target.value));
$("mic-select-call").addEventListener("change", (e) => switchDevice("audio", e.target.value));
$("leave-button").addEventListener("click", leave);
$("rejoin-button").addEventListener("click", () => window.location.reload());
window.addEventListener("pagehide", () => state.socket?.close());

startPreview();
