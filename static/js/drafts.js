// Drafts of a form kept in sessionStorage: they survive a reload of the tab
// (a dropped call, a slip of the finger) but not the tab itself, so clinical
// text never lingers on a shared computer.

export function createDraftStore(storage, key, fields) {
  return {
    save(values) {
      const draft = {};
      for (const name of fields) if (values[name]) draft[name] = values[name];
      try {
        if (Object.keys(draft).length) storage.setItem(key, JSON.stringify(draft));
        else storage.removeItem(key);
      } catch {
        // Storage full or disabled: the draft simply is not kept.
      }
    },
    load() {
      let draft;
      try {
        draft = JSON.parse(storage.getItem(key) || "null");
      } catch {
        return null;
      }
      if (!draft || typeof draft !== "object" || Array.isArray(draft)) return null;
      const values = {};
      for (const name of fields) if (typeof draft[name] === "string") values[name] = draft[name];
      return Object.keys(values).length ? values : null;
    },
    clear() {
      try {
        storage.removeItem(key);
      } catch {
        // Nothing to clear.
      }
    },
  };
}

// What a tab last sent from a form, with the token it went with. A page the
// browser brings back (Back, reload) is refilled with that text but gets a
// fresh token from the server: sending the same text from it is a resend, and
// must carry the first token, so the server answers with what it saved.
export function createSentStore(storage, key, fields) {
  return {
    remember(token, values) {
      const sent = { token, values: pick(values, fields) };
      try {
        storage.setItem(key, JSON.stringify(sent));
      } catch {
        // Without storage the server still recognises a recent identical evolution.
      }
    },
    last() {
      let sent;
      try {
        sent = JSON.parse(storage.getItem(key) || "null");
      } catch {
        return null;
      }
      if (!sent || typeof sent.token !== "string" || !sent.values) return null;
      return { token: sent.token, values: pick(sent.values, fields) };
    },
  };
}

function pick(values, fields) {
  return Object.fromEntries(fields.map((name) => [name, String(values?.[name] ?? "")]));
}

const RESTORING_NAVIGATIONS = new Set(["back_forward", "reload"]);

/** The token to send: the page's own, unless this is the text last sent, refilled by Back or reload. */
export function tokenToSend({ navigationType, pageToken, sent, values, fields }) {
  if (!sent || !RESTORING_NAVIGATIONS.has(navigationType)) return pageToken;
  const typed = pick(values, fields);
  if (fields.every((name) => !typed[name].trim())) return pageToken;
  const same = fields.every((name) => normalise(typed[name]) === normalise(sent.values[name]));
  return same ? sent.token : pageToken;
}

// As the server compares (services._plain): line endings and surrounding blanks do not count.
function normalise(value) {
  return value.replace(/\r\n/g, "\n").trim();
}
