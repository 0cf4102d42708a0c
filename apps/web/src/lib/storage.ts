// Browser storage that never throws: private windows and full quotas turn writes into no-ops, and a
// corrupt value reads as missing rather than breaking a page.

export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** An in-memory stand-in (tests, and browsers that refuse storage). */
export function memoryStorage(): KeyValue {
  const map = new Map<string, string>();
  return {
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
  };
}

export function browserStorage(): KeyValue {
  try {
    const s = globalThis.localStorage;
    s.setItem("cfa.probe", "1");
    s.removeItem("cfa.probe");
    return s;
  } catch {
    return memoryStorage();
  }
}

export function readJson<T>(storage: KeyValue, key: string): T | null {
  try {
    const raw = storage.getItem(key);
    return raw === null ? null : (JSON.parse(raw) as T);
  } catch {
    return null;
  }
}

export function writeJson(storage: KeyValue, key: string, value: unknown): void {
  try {
    storage.setItem(key, JSON.stringify(value));
  } catch {
    // Quota or privacy mode: the value lives only as long as the page.
  }
}
