import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createDraftStore, createSentStore, tokenToSend } from "../drafts.js";

const FIELDS = ["notes", "diagnosis", "diagnosis_code", "prescription"];
const KEY = "mc-evolution-draft:abc";

/** A Storage-like object over a Map, as sessionStorage behaves. */
function memoryStorage(initial = {}) {
  const items = new Map(Object.entries(initial));
  return {
    items,
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
}

/** Storage that throws on every call: disabled storage, private mode, quota exceeded. */
function brokenStorage() {
  const fail = () => {
    throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
  };
  return { getItem: fail, setItem: fail, removeItem: fail };
}

describe("createDraftStore: save and load", () => {
  test("a saved draft loads back with the same values", () => {
    const storage = memoryStorage();
    const store = createDraftStore(storage, KEY, FIELDS);
    store.save({ notes: "Tosse há 3 dias\nsem febre", diagnosis_code: "J45.9" });
    assert.deepEqual(store.load(), { notes: "Tosse há 3 dias\nsem febre", diagnosis_code: "J45.9" });
  });

  test("it is kept as JSON under its own key", () => {
    const storage = memoryStorage();
    createDraftStore(storage, KEY, FIELDS).save({ diagnosis: "Asma" });
    assert.deepEqual(JSON.parse(storage.items.get(KEY)), { diagnosis: "Asma" });
    assert.equal(storage.items.size, 1);
  });

  test("empty values are not stored", () => {
    const storage = memoryStorage();
    const store = createDraftStore(storage, KEY, FIELDS);
    store.save({ notes: "", diagnosis: "Asma", diagnosis_code: "", prescription: "" });
    assert.deepEqual(JSON.parse(storage.items.get(KEY)), { diagnosis: "Asma" });
  });

  test("saving all-empty values removes the draft", () => {
    const storage = memoryStorage();
    const store = createDraftStore(storage, KEY, FIELDS);
    store.save({ notes: "algo" });
    store.save({ notes: "", diagnosis: "", diagnosis_code: "", prescription: "" });
    assert.equal(storage.items.has(KEY), false);
    assert.equal(store.load(), null);
  });

  test("fields it was not given are neither saved nor loaded", () => {
    const storage = memoryStorage({ [KEY]: JSON.stringify({ notes: "ok", csrfmiddlewaretoken: "x" }) });
    const store = createDraftStore(storage, KEY, FIELDS);
    assert.deepEqual(store.load(), { notes: "ok" });
    store.save({ notes: "ok", room: "other" });
    assert.deepEqual(JSON.parse(storage.items.get(KEY)), { notes: "ok" });
  });

  test("drafts of two rooms do not mix", () => {
    const storage = memoryStorage();
    const one = createDraftStore(storage, "mc-evolution-draft:one", FIELDS);
    const two = createDraftStore(storage, "mc-evolution-draft:two", FIELDS);
    one.save({ notes: "primeira" });
    assert.equal(two.load(), null);
    two.save({ notes: "segunda" });
    assert.deepEqual(one.load(), { notes: "primeira" });
  });

  test("nothing saved loads as null", () => {
    assert.equal(createDraftStore(memoryStorage(), KEY, FIELDS).load(), null);
  });
});

describe("createDraftStore: clear", () => {
  test("clear removes the draft", () => {
    const storage = memoryStorage();
    const store = createDraftStore(storage, KEY, FIELDS);
    store.save({ prescription: "Salbutamol 100 mcg" });
    store.clear();
    assert.equal(storage.items.has(KEY), false);
    assert.equal(store.load(), null);
  });

  test("clear leaves other keys alone", () => {
    const storage = memoryStorage({ other: "keep" });
    createDraftStore(storage, KEY, FIELDS).clear();
    assert.equal(storage.items.get("other"), "keep");
  });
});

describe("createDraftStore: what it refuses to load", () => {
  for (const [label, raw] of [
    ["bad JSON", "{notes: "],
    ["a JSON string", JSON.stringify("notes")],
    ["a JSON number", "42"],
    ["JSON null", "null"],
    ["a JSON array", JSON.stringify(["notes", "x"])],
    ["an empty object", "{}"],
    ["an empty string", ""],
  ]) {
    test(`${label} loads as null`, () => {
      const store = createDraftStore(memoryStorage({ [KEY]: raw }), KEY, FIELDS);
      assert.equal(store.load(), null);
    });
  }

  test("values that are not strings are dropped", () => {
    const raw = JSON.stringify({ notes: 12, diagnosis: { x: 1 }, diagnosis_code: null, prescription: "ok" });
    const store = createDraftStore(memoryStorage({ [KEY]: raw }), KEY, FIELDS);
    assert.deepEqual(store.load(), { prescription: "ok" });
  });

  test("an object with only values that are not strings loads as null", () => {
    const raw = JSON.stringify({ notes: ["a"], diagnosis: true });
    assert.equal(createDraftStore(memoryStorage({ [KEY]: raw }), KEY, FIELDS).load(), null);
  });
});

describe("createDraftStore: storage that throws", () => {
  test("save, load and clear never throw", () => {
    const store = createDraftStore(brokenStorage(), KEY, FIELDS);
    assert.doesNotThrow(() => store.save({ notes: "texto" }));
    assert.doesNotThrow(() => store.save({ notes: "" }));
    assert.equal(store.load(), null);
    assert.doesNotThrow(() => store.clear());
  });

  test("a full storage keeps the last draft that fitted", () => {
    const storage = memoryStorage();
    const store = createDraftStore(storage, KEY, FIELDS);
    store.save({ notes: "curto" });
    storage.setItem = () => {
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    };
    assert.doesNotThrow(() => store.save({ notes: "x".repeat(10_000) }));
    assert.deepEqual(store.load(), { notes: "curto" });
  });
});

const PAGE_FIELDS = ["room", "notes", "diagnosis"];
const SENT = { token: "first-token", values: { room: "", notes: "Febre\nSem tosse", diagnosis: "Virose" } };

describe("tokenToSend: Back and reload keep the token of what was sent", () => {
  const ask = (overrides) =>
    tokenToSend({
      navigationType: "back_forward",
      pageToken: "fresh-token",
      sent: SENT,
      values: SENT.values,
      fields: PAGE_FIELDS,
      ...overrides,
    });

  test("the same text on a page brought back by Back is sent with the first token", () => {
    assert.equal(ask(), "first-token");
  });

  test("and after a reload too, whatever the line endings", () => {
    const values = { ...SENT.values, notes: "Febre\r\nSem tosse " };
    assert.equal(ask({ navigationType: "reload", values }), "first-token");
  });

  test("a page opened afresh keeps its own token, even with the same text", () => {
    assert.equal(ask({ navigationType: "navigate" }), "fresh-token");
  });

  test("a changed text, or another consultation, is another evolution", () => {
    assert.equal(ask({ values: { ...SENT.values, diagnosis: "Dengue" } }), "fresh-token");
    assert.equal(ask({ values: { ...SENT.values, room: "abc" } }), "fresh-token");
  });

  test("nothing sent before, or an empty form: the page's token", () => {
    assert.equal(ask({ sent: null }), "fresh-token");
    assert.equal(ask({ sent: { token: "t", values: {} }, values: {} }), "fresh-token");
  });
});

describe("createSentStore", () => {
  test("remembers the last token and text sent, only for its fields", () => {
    const storage = memoryStorage();
    const store = createSentStore(storage, "mc-evolution-sent:7", PAGE_FIELDS);
    store.remember("t1", { notes: "Uma", token: "ignored" });
    store.remember("t2", { notes: "Duas" });
    assert.deepEqual(store.last(), { token: "t2", values: { room: "", notes: "Duas", diagnosis: "" } });
  });

  test("broken, missing or foreign storage gives nothing, and never throws", () => {
    assert.equal(createSentStore(brokenStorage(), "k", PAGE_FIELDS).last(), null);
    createSentStore(brokenStorage(), "k", PAGE_FIELDS).remember("t", {});
    assert.equal(createSentStore(null, "k", PAGE_FIELDS).last(), null);
    const junk = memoryStorage({ k: "{not json" });
    assert.equal(createSentStore(junk, "k", PAGE_FIELDS).last(), null);
    const foreign = memoryStorage({ k: JSON.stringify({ token: 5, values: {} }) });
    assert.equal(createSentStore(foreign, "k", PAGE_FIELDS).last(), null);
  });
});
