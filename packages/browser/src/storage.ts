/**
 * The part of the Web Storage API the SDK uses; `localStorage`,
 * `sessionStorage` or any object with these three methods fits.
 *
 * @example
 * ```ts
 * const perTab: StorageLike = sessionStorage;
 * await verigate.init({ publishableKey, storage: perTab });
 * ```
 */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A storage that lives as long as the page: nothing survives a reload. */
export function memoryStorage(): StorageLike {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/**
 * `localStorage` when the page may use it. Access throws in some privacy
 * modes and sandboxed iframes; the SDK then keeps the session in memory.
 */
export function defaultStorage(): StorageLike {
  try {
    const storage = (globalThis as { localStorage?: StorageLike }).localStorage;
    if (storage) {
      const probe = '__verigate_probe__';
      storage.setItem(probe, '1');
      storage.removeItem(probe);
      return storage;
    }
  } catch {
    // fall through to memory
  }
  return memoryStorage();
}

/** Storage that never throws: a full or revoked storage must not break sign-in. */
export function safe(storage: StorageLike): StorageLike {
  return {
    getItem: (key) => {
      try {
        return storage.getItem(key);
      } catch {
        return null;
      }
    },
    setItem: (key, value) => {
      try {
        storage.setItem(key, value);
      } catch {
        // quota exceeded or storage revoked: the session lives for this page only
      }
    },
    removeItem: (key) => {
      try {
        storage.removeItem(key);
      } catch {
        // nothing to do
      }
    },
  };
}
