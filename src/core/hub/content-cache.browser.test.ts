/**
 * cacheStorageContentCache on the real Cache Storage of Chromium: a kept body (bytes or an
 * unread Response) comes back byte-exact for its hash only, a new hash replaces the old copies
 * of the same URL, and other URLs are left alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../io/sha256.ts';
import { cacheStorageContentCache } from './content-cache.ts';

const NAME = 'moe-studio-files-test';
const random = (n: number) => new Uint8Array(n).map(() => (Math.random() * 256) | 0);

afterEach(async () => {
  await caches.delete(NAME);
});

describe('cacheStorageContentCache', () => {
  it('keeps bytes and Responses under their hash; a new hash replaces the old copy of that URL only', async () => {
    const cache = cacheStorageContentCache(NAME)!;
    const [a, b, other] = [random(70_001), random(123), random(5)];
    const url = '/zoo/x/model.safetensors';
    expect(await cache.get(url, sha256Hex(a))).toBeUndefined();
    await cache.put(url, sha256Hex(a), a);
    await cache.put('/zoo/y/config.json', sha256Hex(other), new Response(other));
    expect(await cache.get(url, sha256Hex(a))).toEqual(a);
    expect(await cache.get(url, sha256Hex(b))).toBeUndefined();
    await cache.put(url, sha256Hex(b), new Response(b));
    expect(await cache.get(url, sha256Hex(b))).toEqual(b);
    expect(await cache.get(url, sha256Hex(a))).toBeUndefined();
    expect(await cache.get('/zoo/y/config.json', sha256Hex(other))).toEqual(other);
    expect((await (await caches.open(NAME)).keys()).length).toBe(2);
  });
});
