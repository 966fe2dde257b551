/**
 * How the page entry reads its `model` option (modelRefOf), for the branches that need no
 * server: a .gguf URL, a stored model's id, and the refusals. The zoo branch runs in
 * e2e/api.spec.ts against the real zoo.
 */
import { describe, expect, it } from 'vitest';
import { modelRefOf } from './browser.ts';

describe('createEngine (page): the model option', () => {
  it('a .gguf URL is one file in its folder', async () => {
    expect(await modelRefOf({ model: 'https://example.org/models/tiny%20moe.q8_0.gguf' })).toEqual({
      kind: 'url',
      id: 'https://example.org/models/tiny%20moe.q8_0.gguf',
      title: 'tiny moe.q8_0.gguf',
      baseUrl: 'https://example.org/models/',
      files: [{ name: 'tiny moe.q8_0.gguf' }],
    });
  });

  it('an id outside zoo/ is a model stored in IndexedDB (in the studio’s database unless dbName says)', async () => {
    expect(await modelRefOf({ model: 'studio/my-moe' })).toEqual({ kind: 'store', id: 'studio/my-moe' });
    expect(await modelRefOf({ model: 'x', dbName: 'other' })).toEqual({ kind: 'store', id: 'x', dbName: 'other' });
  });

  it('refuses a folder URL and an empty model with a ConfigError', async () => {
    await expect(modelRefOf({ model: 'https://example.org/models/tiny/' })).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringContaining('must name a .gguf file'),
    });
    await expect(modelRefOf({ model: '' })).rejects.toMatchObject({ name: 'ConfigError' });
  });
});
