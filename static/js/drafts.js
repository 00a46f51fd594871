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
