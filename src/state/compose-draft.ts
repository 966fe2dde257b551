/**
 * The Compose draft (the YAML text, the name, the layout) kept in localStorage across reloads.
 * The form is not stored: it is derived from the YAML again on load (parseMergeYaml).
 * A stored draft this version cannot read is left in storage, not shown, and said so.
 */
export const COMPOSE_DRAFT_SCHEMA_VERSION = 1;
export const COMPOSE_DRAFT_KEY = 'moe-studio-compose-draft';
/** A draft is text a person typed; beyond this it is not stored (localStorage holds ~5 MB per origin). */
export const COMPOSE_DRAFT_MAX_CHARS = 1_000_000;

export const COMPOSE_LAYOUTS = ['classic', 'fused'] as const;
export type ComposeLayout = (typeof COMPOSE_LAYOUTS)[number];

export interface ComposeDraft {
  schemaVersion: typeof COMPOSE_DRAFT_SCHEMA_VERSION;
  yaml: string;
  title: string;
  layout: ComposeLayout;
}

export type ComposeDraftMigration = { type: 'success'; draft: ComposeDraft } | { type: 'error'; reason: string };

/** One stored value → the current draft, or why it cannot be read. */
export function migrateComposeDraft(raw: unknown): ComposeDraftMigration {
  if (!raw || typeof raw !== 'object') return { type: 'error', reason: 'not an object' };
  const r = raw as Partial<Record<keyof ComposeDraft, unknown>>;
  if (r.schemaVersion !== COMPOSE_DRAFT_SCHEMA_VERSION)
    return {
      type: 'error',
      reason: `schema version ${String(r.schemaVersion)} (this app reads ${COMPOSE_DRAFT_SCHEMA_VERSION})`,
    };
  if (typeof r.yaml !== 'string') return { type: 'error', reason: 'yaml is not text' };
  if (typeof r.title !== 'string') return { type: 'error', reason: 'title is not text' };
  if (!COMPOSE_LAYOUTS.includes(r.layout as ComposeLayout))
    return { type: 'error', reason: `layout ${JSON.stringify(r.layout)} is not one of ${COMPOSE_LAYOUTS.join(', ')}` };
  return {
    type: 'success',
    draft: {
      schemaVersion: COMPOSE_DRAFT_SCHEMA_VERSION,
      yaml: r.yaml,
      title: r.title,
      layout: r.layout as ComposeLayout,
    },
  };
}

export type ComposeDraftLoad =
  | { type: 'none' }
  | { type: 'success'; draft: ComposeDraft }
  | { type: 'error'; reason: string };

export function composeDraftLoad(storage: Storage | undefined): ComposeDraftLoad {
  let text: string | null;
  try {
    text = storage?.getItem(COMPOSE_DRAFT_KEY) ?? null;
  } catch (e) {
    return { type: 'error', reason: `storage could not be read: ${(e as Error).name}: ${(e as Error).message}` };
  }
  if (text === null) return { type: 'none' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { type: 'error', reason: 'not JSON' };
  }
  return migrateComposeDraft(raw);
}

/** Writes the draft; the reason it could not, or undefined. */
export function composeDraftSave(
  storage: Storage | undefined,
  draft: Omit<ComposeDraft, 'schemaVersion'>,
): string | undefined {
  if (!storage) return undefined;
  if (draft.yaml.length > COMPOSE_DRAFT_MAX_CHARS)
    return `the YAML is longer than ${COMPOSE_DRAFT_MAX_CHARS.toLocaleString('en')} characters`;
  try {
    storage.setItem(COMPOSE_DRAFT_KEY, JSON.stringify({ schemaVersion: COMPOSE_DRAFT_SCHEMA_VERSION, ...draft }));
    return undefined;
  } catch (e) {
    return `saving failed (${(e as Error).name}: ${(e as Error).message})`;
  }
}
