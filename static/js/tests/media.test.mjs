import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { browserFamily, constraints, failureKind } from "../media.js";

describe("constraints", () => {
  test("video asks for 640x480 at 24 fps, allowing up to 1280x720 at 30", () => {
    assert.deepEqual(constraints().video, {
      width: { ideal: 640, max: 1280 },
      height: { ideal: 480, max: 720 },
      frameRate: { ideal: 24, max: 30 },
    });
  });

  test("audio has echo cancellation, noise suppression and gain control on", () => {
    assert.deepEqual(constraints().audio, {
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
    });
  });

  test("a chosen device is asked for exactly, never as a hint", () => {
    const c = constraints({ videoDeviceId: "cam-2", audioDeviceId: "mic-7" });
    assert.deepEqual(c.video.deviceId, { exact: "cam-2" });
    assert.deepEqual(c.audio.deviceId, { exact: "mic-7" });
    assert.equal(c.video.width.ideal, 640);
    assert.equal(c.audio.echoCancellation, true);
  });

  test("no device id means no deviceId constraint at all", () => {
    const c = constraints({ videoDeviceId: "", audioDeviceId: undefined });
    assert.equal("deviceId" in c.video, false);
    assert.equal("deviceId" in c.audio, false);
  });

  test("video: false asks for the microphone only", () => {
    const c = constraints({ video: false, videoDeviceId: "cam-2", audioDeviceId: "mic-7" });
    assert.equal(c.video, false);
    assert.deepEqual(c.audio.deviceId, { exact: "mic-7" });
  });

  test("a device chosen once does not stick to later calls", () => {
    const first = constraints({ videoDeviceId: "cam-2" });
    first.video.frameRate = null;
    first.audio.echoCancellation = false;
    const second = constraints();
    assert.equal(second.video.frameRate.ideal, 24);
    assert.equal(second.audio.echoCancellation, true);
    assert.equal("deviceId" in second.video, false);
  });
});

describe("failureKind", () => {
  const kind = (name) => failureKind(Object.assign(new Error("x"), { name }));

  test("permission refused is 'denied'", () => {
    assert.equal(kind("NotAllowedError"), "denied");
    assert.equal(kind("SecurityError"), "denied");
  });

  test("no such device is 'missing'", () => {
    assert.equal(kind("NotFoundError"), "missing");
    assert.equal(kind("OverconstrainedError"), "missing");
  });

  test("device in use by another program is 'busy'", () => {
    assert.equal(kind("NotReadableError"), "busy");
    assert.equal(kind("AbortError"), "busy");
  });

  test("anything else is 'other'", () => {
    assert.equal(kind("TypeError"), "other");
    assert.equal(kind("Error"), "other");
    assert.equal(failureKind(null), "other");
    assert.equal(failureKind(undefined), "other");
    assert.equal(failureKind({}), "other");
  });
});

describe("browserFamily", () => {
  const UA = {
    chromeDesktop:
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    chromeAndroid:
      "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    chromeIOS:
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
    safariIOS:
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    safariMac:
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    firefox: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    firefoxLinux: "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    edge:
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
    curl: "curl/8.5.0",
  };

  test("Chrome on the desktop and on Android is chrome", () => {
    assert.equal(browserFamily(UA.chromeDesktop), "chrome");
    assert.equal(browserFamily(UA.chromeAndroid), "chrome");
  });

  test("Chrome on iOS (CriOS, with Safari in its UA) is chrome", () => {
    assert.equal(browserFamily(UA.chromeIOS), "chrome");
  });

  test("Safari on iOS and macOS is safari", () => {
    assert.equal(browserFamily(UA.safariIOS), "safari");
    assert.equal(browserFamily(UA.safariMac), "safari");
  });

  test("Firefox is firefox", () => {
    assert.equal(browserFamily(UA.firefox), "firefox");
    assert.equal(browserFamily(UA.firefoxLinux), "firefox");
  });

  test("Edge (whose UA also says Chrome and Safari) is edge", () => {
    assert.equal(browserFamily(UA.edge), "edge");
  });

  test("anything unrecognised is other", () => {
    assert.equal(browserFamily(UA.curl), "other");
    assert.equal(browserFamily(""), "other");
  });
});
