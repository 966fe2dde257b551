import { describe, expect, it } from 'vitest';
import type { ModelManifest } from './manifest.ts';
import { roomRefusal } from './room.ts';

const model = (title: string, totalBytes: number) => ({ title, totalBytes }) as ModelManifest;

describe('roomRefusal', () => {
  it('lets a write through when the estimate has room, or gives none', () => {
    expect(roomRefusal('m', 10e6, { usage: 5e6, quota: 20e6 })).toBeUndefined();
    expect(roomRefusal('m', 15e6, { usage: 5e6, quota: 20e6 })).toBeUndefined(); // exactly the room left
    expect(roomRefusal('m', 10e9, undefined)).toBeUndefined();
    expect(roomRefusal('m', 10e9, { usage: 0 })).toBeUndefined();
    expect(roomRefusal('m', 10e9, { usage: 0, quota: 0 })).toBeUndefined(); // a platform that reports no quota
  });

  it('refuses a write that does not fit, with the sizes and the largest models to delete', () => {
    const refusal = roomRefusal('TinyLlama', 2.2e9, { usage: 1.5e9, quota: 2e9 }, [
      model('small', 7e6),
      model('big', 1.4e9),
      model('mid', 90e6),
      model('tiny', 1e6),
    ]);
    expect(refusal?.name).toBe('StoreError');
    expect(refusal?.message).toBe(
      "store: not enough storage for TinyLlama: it needs 2200.0 MB and the browser allows 500.0 MB more (1500.0 MB of 2000.0 MB used). Nothing was written. Delete a model to make room, e.g. 'big' (1400.0 MB), 'mid' (90.0 MB), 'small' (7.0 MB), or allow this site more storage.",
    );
    expect(roomRefusal('x', 2, { usage: 3, quota: 2 })?.message).toContain('allows 0.0 MB more');
    expect(roomRefusal('x', 2, { usage: 3, quota: 2 })?.message).toContain('Free disk space');
  });
});
