// Camera and microphone: the constraints, the device lists, switching devices
// mid-call, and a plain explanation for each way getUserMedia can fail.

export const VIDEO_CONSTRAINTS = {
  width: { ideal: 640, max: 1280 },
  height: { ideal: 480, max: 720 },
  frameRate: { ideal: 24, max: 30 },
};
export const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

export function constraints({ videoDeviceId, audioDeviceId, video = true } = {}) {
  return {
    audio: { ...AUDIO_CONSTRAINTS, ...(audioDeviceId ? { deviceId: { exact: audioDeviceId } } : {}) },
    video: video ? { ...VIDEO_CONSTRAINTS, ...(videoDeviceId ? { deviceId: { exact: videoDeviceId } } : {}) } : false,
  };
}

// The kind of failure, for the help text: "denied" | "missing" | "busy" | "other".
export function failureKind(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "missing";
    case "NotReadableError":
    case "AbortError":
      return "busy";
    default:
      return "other";
  }
}

// "chrome" | "firefox" | "safari" | "edge" | "other", to pick the help steps.
export function browserFamily(userAgent) {
  if (/Edg\//.test(userAgent)) return "edge";
  if (/Firefox\//.test(userAgent)) return "firefox";
  if (/Chrome\/|CriOS\//.test(userAgent)) return "chrome";
  if (/Safari\//.test(userAgent)) return "safari";
  return "other";
}

export async function getMedia(options) {
  return navigator.mediaDevices.getUserMedia(constraints(options));
}

export async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: devices.filter((d) => d.kind === "videoinput"),
    microphones: devices.filter((d) => d.kind === "audioinput"),
  };
}

export function fillSelect(select, devices, currentId, fallbackLabel) {
  select.replaceChildren(
    ...devices.map((d, i) => {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || `${fallbackLabel} ${i + 1}`;
      option.selected = d.deviceId === currentId;
      return option;
    }),
  );
  select.disabled = devices.length === 0;
}
