/**
 * The key-value seam under the model store: idb-keyval in the app and the browser tests,
 * an in-memory map in Node tests, and a quota-limited wrapper that throws the browser's
 * own QuotaExceededError (used by tests and by the e2e "simulated quota" setting).
 */
import { createStore, delMany, get, keys, set, type UseStore } from 'idb-keyval';

export interface KvStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  del(keys: string[]): Promise<void>;
  /** Every key starting with `prefix`. */
  keys(prefix: string): Promise<string[]>;
}

export const MODEL_DB_NAME = 'moe-studio';
export const MODEL_DB_STORE = 'models';

export function idbKvStore(dbName = MODEL_DB_NAME, storeName = MODEL_DB_STORE): KvStore {
  const store: UseStore = createStore(dbName, storeName);
  return {
    get: <T>(key: string) => get<T>(key, store),
    set: (key, value) => set(key, value, store),
    del: async (list) => {
      if (list.length) await delMany(list, store);
    },
    keys: async (prefix) =>
      (await keys<IDBValidKey>(store)).filter((k): k is string => typeof k === 'string' && k.startsWith(prefix)),
  };
}

export function memoryKvStore(): KvStore & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    async get<T>(key: string) {
      return map.get(key) as T | undefined;
    },
    async set(key, value) {
      map.set(key, value);
    },
    async del(list) {
      for (const k of list) map.delete(k);
    },
    async keys(prefix) {
      return [...map.keys()].filter((k) => k.startsWith(prefix));
    },
  };
}

function valueBytes(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  return JSON.stringify(value ?? null).length;
}

/**
 * Wraps a store so that writes beyond `maxBytes` (binary chunks counted exactly, records by
 * their JSON length) fail with a DOMException named 'QuotaExceededError', as IndexedDB does.
 * Deleting frees the counted bytes.
 */
export function quotaLimitedKvStore(inner: KvStore, maxBytes: number): KvStore {
  const sizes = new Map<string, number>();
  let used = 0;
  return {
    get: (key) => inner.get(key),
    async set(key, value) {
      const size = valueBytes(value);
      const next = used - (sizes.get(key) ?? 0) + size;
      if (next > maxBytes)
        throw new DOMException(`simulated quota of ${maxBytes} bytes exceeded`, 'QuotaExceededError');
      await inner.set(key, value);
      used = next;
      sizes.set(key, size);
    },
    async del(list) {
      await inner.del(list);
      for (const k of list) {
        used -= sizes.get(k) ?? 0;
        sizes.delete(k);
      }
    },
    keys: (prefix) => inner.keys(prefix),
  };
}
