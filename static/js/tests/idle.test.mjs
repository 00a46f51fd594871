import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { formatCountdown, nextStep } from "../idle.js";

describe("nextStep", () => {
  test("waits until the warning is due", () => {
    assert.deepEqual(nextStep({ expiresIn: 1800, warnSeconds: 120 }), {
      action: "wait",
      seconds: 1680,
    });
  });

  test("warns an idle person with the seconds left", () => {
    assert.deepEqual(nextStep({ expiresIn: 115, warnSeconds: 120 }), {
      action: "warn",
      seconds: 115,
    });
  });

  test("keeps the session alive during a call instead of warning", () => {
    assert.equal(nextStep({ expiresIn: 115, warnSeconds: 120, inCall: true }).action, "keepalive");
  });

  test("keeps the session alive when the person typed or clicked on the page", () => {
    assert.equal(
      nextStep({ expiresIn: 60, warnSeconds: 120, interacted: true }).action,
      "keepalive",
    );
  });

  test("right after a keep-alive, a short time left (the 12 h limit) is waited out, not warned again", () => {
    assert.deepEqual(nextStep({ expiresIn: 90, warnSeconds: 120, keptAlive: true }), {
      action: "wait",
      seconds: 90,
    });
  });

  test("an expired session goes to the login, even during a call", () => {
    assert.equal(nextStep({ expiresIn: 0, warnSeconds: 120, inCall: true }).action, "expire");
    assert.equal(nextStep({ expiresIn: -5, warnSeconds: 120 }).action, "expire");
  });

  test("a missing or broken value is treated as expired, not as forever", () => {
    assert.equal(nextStep({ expiresIn: NaN, warnSeconds: 120 }).action, "expire");
    assert.equal(nextStep({ expiresIn: undefined, warnSeconds: 120 }).action, "expire");
  });
});

describe("formatCountdown", () => {
  test("shows minutes and two-digit seconds", () => {
    assert.equal(formatCountdown(120), "2:00");
    assert.equal(formatCountdown(65), "1:05");
    assert.equal(formatCountdown(9), "0:09");
  });

  test("rounds up and never goes below zero", () => {
    assert.equal(formatCountdown(0.2), "0:01");
    assert.equal(formatCountdown(-3), "0:00");
  });
});
