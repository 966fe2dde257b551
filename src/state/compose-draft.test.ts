import { describe, expect, it } from 'vitest';
import { COMPOSE_DRAFT_SCHEMA_VERSION, migrateComposeDraft } from './compose-draft.ts';

const good = {
  schemaVersion: COMPOSE_DRAFT_SCHEMA_VERSION,
  yaml: 'base_model: zoo/base\n',
  title: 'T',
  layout: 'fused',
};

describe('migrateComposeDraft', () => {
  it('reads a current draft', () => {
    expect(migrateComposeDraft(good)).toEqual({ type: 'success', draft: good });
  });
  it.each([
    ['rejects a value that is not an object', null, 'not an object'],
    ['rejects another schema version', { ...good, schemaVersion: 2 }, 'schema version 2 (this app reads 1)'],
    ['rejects a draft without a version', { yaml: '', title: '', layout: 'classic' }, 'schema version undefined'],
    ['rejects YAML that is not text', { ...good, yaml: 42 }, 'yaml is not text'],
    ['rejects a name that is not text', { ...good, title: null }, 'title is not text'],
    ['rejects an unknown layout', { ...good, layout: 'split' }, 'layout "split" is not one of classic, fused'],
  ])('%s', (_, raw, reason) => {
    expect(migrateComposeDraft(raw)).toEqual({ type: 'error', reason: expect.stringContaining(reason) });
  });
});
