import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { FATAL_CLOSE_CODES, RETRY_LATER_CLOSE_CODES, laterDelay, nextDelay, shouldRetry } from "../backoff.js";

describe("shouldRetry", () => {
  for (const code of [4401, 4403, 4404, 4409, 4410]) {
    test(`gives up after close code ${code}`, () => {
      assert.equal(shouldRetry(code), false);
    });
  }

  // 1006 abnormal closure, 4500 server error, 4503 database busy, 1000 a clean
  // close the client did not ask for (server restart), 4429 flooding: all worth
  // another try.
  for (const code of [1006, 1011, 1000, 1001, 1009, 1013, 4429, 4430, 4500, 4503]) {
    test(`retries after close code ${code}`, () => {
      assert.equal(shouldRetry(code), true);
    });
  }

  test("the fatal codes are exactly the ones the protocol names", () => {
    assert.deepEqual([...FATAL_CLOSE_CODES].sort(), [4401, 4403, 4404, 4409, 4410]);
  });
});

describe("nextDelay", () => {
  const top = () => 1; // the ceiling itself
  const bottom = () => 0; // half the ceiling

  test("the first attempt waits about half a second at most", () => {
    assert.equal(nextDelay(0, { random: top }), 500);
    assert.equal(nextDelay(0, { random: bottom }), 250);
  });

  test("the ceiling doubles with each attempt", () => {
    const ceilings = [0, 1, 2, 3, 4].map((attempt) => nextDelay(attempt, { random: top }));
    assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000]);
  });

  test("the ceiling stops at the cap, however many attempts", () => {
    assert.equal(nextDelay(5, { random: top }), 15000);
    assert.equal(nextDelay(50, { random: top }), 15000);
    assert.equal(nextDelay(5000, { random: top }), 15000); // 2 ** 5000 is Infinity
    assert.equal(nextDelay(3, { base: 1000, cap: 5000, random: top }), 5000);
  });

  test("jitter stays between half the ceiling and the ceiling", () => {
    for (const attempt of [0, 1, 2, 3, 4, 5, 10]) {
      const ceiling = Math.min(15000, 500 * 2 ** attempt);
      for (const r of [0, 0.001, 0.25, 0.5, 0.75, 0.999999]) {
        const delay = nextDelay(attempt, { random: () => r });
        assert.ok(delay >= ceiling / 2 && delay <= ceiling, `attempt ${attempt}, random ${r}: ${delay}`);
      }
      assert.equal(nextDelay(attempt, { random: bottom }), ceiling / 2);
      assert.equal(nextDelay(attempt, { random: () => 0.5 }), Math.round(ceiling * 0.75));
    }
  });

  test("the real Math.random keeps within the same bounds", () => {
    for (let i = 0; i < 200; i += 1) {
      const delay = nextDelay(2);
      assert.ok(delay >= 1000 && delay <= 2000, String(delay));
    }
  });

  test("a negative attempt is treated as the first", () => {
    assert.equal(nextDelay(-3, { random: top }), 500);
  });

  test("the delay is a whole number of milliseconds", () => {
    assert.ok(Number.isInteger(nextDelay(1, { random: () => 0.123456 })));
  });
});

describe("laterDelay (retry-later close codes)", () => {
  test("4430, too many connection attempts, is retried later, not at once", () => {
    assert.deepEqual([...RETRY_LATER_CLOSE_CODES], [4430]);
    assert.equal(shouldRetry(4430), true);
  });

  test("waits between 15 and 30 seconds", () => {
    assert.equal(laterDelay({ random: () => 0 }), 15000);
    assert.equal(laterDelay({ random: () => 1 }), 30000);
    assert.equal(laterDelay({ random: () => 0.5 }), 22500);
  });
});
