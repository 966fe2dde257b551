/**
 * Chat's persisted format and its storage: conversations in IndexedDB (idb-keyval, one record
 * list) with a schema version; a record this version cannot read is kept verbatim on every
 * write, never dropped. chat.ts holds the state; this file only reads and writes.
 */
import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { ContextOverflow } from '../api/types.ts';
import type { RoutingOverrides } from '../core/runtime/types.ts';
import type { GenerateSummary } from '../../workers/engine/api.ts';
import type { Sampling } from './chat-sampling.ts';
import type { StreamToken } from './token-stream.ts';

export const CHAT_SCHEMA_VERSION = 1;

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
  /** Assistant turns: each generated token and its routing. */
  tokens?: StreamToken[];
  summary?: GenerateSummary;
  /** Assistant turns: what the answer was made with (model, sampling, routing interventions). */
  madeWith?: AnswerSettings;
}

export interface AnswerSettings {
  modelId?: string;
  modelTitle?: string;
  sampling: Sampling;
  /** Routing interventions in force (undefined: the model's own routing). */
  routing?: RoutingOverrides;
}

export interface Conversation {
  schemaVersion: typeof CHAT_SCHEMA_VERSION;
  id: string;
  title: string;
  /** The model that answered last (id as the engine reports it; title for display when it is gone). */
  modelId?: string;
  modelTitle?: string;
  system: string;
  turns: ChatTurn[];
  updatedAt: number;
  /** Set when the user chose to drop the oldest turns once the context is full (else each full context asks). */
  contextOverflow?: ContextOverflow;
}

let chatDb: UseStore | undefined;
const db = () => (chatDb ??= createStore('moe-studio-chats', 'conversations'));

export type MigrationResult = { type: 'success'; conversation: Conversation } | { type: 'error'; reason: string };

/** One stored record → a current Conversation, or why it cannot be read (then it is kept as is). */
export function migrateConversation(raw: unknown): MigrationResult {
  if (!raw || typeof raw !== 'object') return { type: 'error', reason: 'not an object' };
  const r = raw as Partial<Conversation> & { schemaVersion?: unknown };
  if (r.schemaVersion !== CHAT_SCHEMA_VERSION)
    return {
      type: 'error',
      reason: `schema version ${String(r.schemaVersion)} (this app reads ${CHAT_SCHEMA_VERSION})`,
    };
  if (typeof r.id !== 'string' || !Array.isArray(r.turns)) return { type: 'error', reason: 'malformed conversation' };
  return {
    type: 'success',
    conversation: {
      ...r,
      title: String(r.title ?? ''),
      system: String(r.system ?? ''),
      updatedAt: Number(r.updatedAt ?? 0),
    } as Conversation,
  };
}

export type LoadResult =
  | { type: 'success'; conversations: Conversation[]; foreign: unknown[] }
  | { type: 'error'; message: string };

/** The stored conversations, migrated; records this version cannot read come back in `foreign`, unchanged. */
export async function loadStoredConversations(): Promise<LoadResult> {
  let raw: unknown;
  try {
    raw = await get<unknown>('conversations', db());
  } catch (e) {
    return { type: 'error', message: `could not be read (${(e as Error).name}: ${(e as Error).message})` };
  }
  if (raw === undefined) return { type: 'success', conversations: [], foreign: [] };
  if (!Array.isArray(raw)) return { type: 'error', message: 'are unreadable (the stored value is not a list)' };
  const conversations: Conversation[] = [];
  const unknown: unknown[] = [];
  for (const record of raw) {
    const m = migrateConversation(record);
    if (m.type === 'success') conversations.push(m.conversation);
    else unknown.push(record);
  }
  return { type: 'success', conversations, foreign: unknown };
}

/** Writes the whole record list (conversations and the records kept verbatim). */
export async function saveStoredConversations(records: unknown[]): Promise<void> {
  await set('conversations', records, db());
}
