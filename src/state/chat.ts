/**
 * Chat: conversations (persisted in IndexedDB with schemaVersion), system prompt, sampling,
 * routing overrides, streaming via the engine. Tokens stream through token-stream.ts; the
 * finished message (text + compact routing) lands in state once.
 */
import { create } from 'zustand';
import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { RoutingOverrides, SamplerOptions, TokenRouting } from '../core/runtime/types.ts';
import { hasRoutingOverrides } from '../core/runtime/routing.ts';
import type { ChatMessage } from '../core/tokenizer/types.ts';
import { engineCallback, engineClient, engineClientOnCrash, engineEncodeDeadline } from './workers.ts';
import type { EngineEvent, GenerateSummary } from '../../workers/engine/api.ts';
import { useEngine } from './engine.ts';
import { tokenStream, type StreamToken } from './token-stream.ts';

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
}

export type Sampling = Required<Pick<SamplerOptions, 'temperature' | 'topK' | 'topP' | 'repetitionPenalty'>> & {
  maxTokens: number;
  seed?: number;
};

export type SamplingKey = Exclude<keyof Sampling, 'seed'>;

/**
 * What each sampling input accepts: inside what the sampler itself checks (checkOptions in
 * core/runtime/sampler.ts: temperature ≥ 0, topK an integer ≥ 1, topP in (0, 1]; generate:
 * maxTokens an integer), the upper caps are the studio's (the ranges its inputs offer).
 */
export const SAMPLING_LIMITS = {
  temperature: { label: 'Temperature', min: 0, max: 2, step: 0.1, integer: false, minExclusive: false },
  topK: { label: 'Top-k', min: 1, max: 1000, step: 1, integer: true, minExclusive: false },
  topP: { label: 'Top-p', min: 0, max: 1, step: 0.05, integer: false, minExclusive: true },
  repetitionPenalty: { label: 'Repetition penalty', min: 1, max: 2, step: 0.05, integer: false, minExclusive: false },
  maxTokens: { label: 'Max tokens', min: 1, max: 1024, step: 8, integer: true, minExclusive: false },
} satisfies Record<
  SamplingKey,
  { label: string; min: number; max: number; step: number; integer: boolean; minExclusive: boolean }
>;

export type SamplingCheck = { ok: true; value: number } | { ok: false; message: string };

/** The text of one sampling input → its value, or a message that names the field, the value and the range. */
export function samplingCheck(key: SamplingKey, text: string): SamplingCheck {
  const { label, min, max, integer, minExclusive } = SAMPLING_LIMITS[key];
  const range = `${integer ? 'a whole number' : 'a number'} ${minExclusive ? `above ${min}, at most ${max}` : `from ${min} to ${max}`}`;
  if (text.trim() === '') return { ok: false, message: `${label} is empty: enter ${range}.` };
  const value = Number(text);
  const inRange = (minExclusive ? value > min : value >= min) && value <= max;
  if (!Number.isFinite(value) || !inRange || (integer && !Number.isInteger(value)))
    return { ok: false, message: `${label} ${text} is not ${range}.` };
  return { ok: true, value };
}

export interface ChatState {
  conversations: Conversation[];
  currentId?: string;
  sampling: Sampling;
  /** Sampling inputs whose text is not a valid value: shown with their message; `sampling` keeps the last valid one. */
  samplingIssues: Partial<Record<SamplingKey, { text: string; message: string }>>;
  overrides: RoutingOverrides;
  streaming: boolean;
  error?: string;
  backendNote?: string;
  /** Saved conversations could not be read (nothing is written then) or a save failed. */
  storageError?: string;
  /** Saved records this version cannot read: kept unchanged in storage, not shown. */
  storageNote?: string;
}

const DEFAULT_SAMPLING: Sampling = { temperature: 0.7, topK: 40, topP: 0.95, repetitionPenalty: 1.1, maxTokens: 64 };
const initialChat: ChatState = {
  conversations: [],
  sampling: DEFAULT_SAMPLING,
  samplingIssues: {},
  overrides: {},
  streaming: false,
};
export const useChat = create<ChatState>()(() => ({ ...initialChat }));

let chatDb: UseStore | undefined;
const db = () => (chatDb ??= createStore('moe-studio-chats', 'conversations'));

engineClientOnCrash((message) => {
  if (useChat.getState().streaming)
    useChat.setState({ streaming: false, error: `BackendError: the engine worker stopped (${message})` });
});

export function chatReset(): void {
  useChat.setState({ ...initialChat }, true);
  loaded = undefined;
  foreign = [];
}

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

type LoadResult =
  | { type: 'success'; conversations: Conversation[]; foreign: unknown[] }
  | { type: 'error'; message: string };

async function loadStored(): Promise<LoadResult> {
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

/** Records kept verbatim on every write (another schema version, malformed). */
let foreign: unknown[] = [];
let loaded: Promise<boolean> | undefined;
let writing: Promise<void> = Promise.resolve();

/** Loads once; false (and a visible storageError) when the stored data cannot be read — then nothing is written over it. */
function ensureLoaded(): Promise<boolean> {
  const attempt = (loaded ??= (async () => {
    const r = await loadStored();
    if (r.type === 'error') {
      useChat.setState({
        storageError: `Saved conversations ${r.message}. Nothing is saved until this is resolved, so the stored data stays as it is.`,
      });
      return false;
    }
    foreign = r.foreign;
    useChat.setState((s) => {
      const ids = new Set(s.conversations.map((c) => c.id));
      const conversations = [...s.conversations, ...r.conversations.filter((c) => !ids.has(c.id))];
      return {
        conversations,
        currentId: s.currentId ?? conversations[0]?.id,
        storageError: undefined,
        storageNote: r.foreign.length
          ? `${r.foreign.length} saved conversation(s) from another version of MoE Studio are kept unchanged but not shown.`
          : undefined,
      };
    });
    return true;
  })());
  void attempt.then((ok) => {
    if (!ok && loaded === attempt) loaded = undefined;
  });
  return attempt;
}

export async function chatInit(): Promise<void> {
  await ensureLoaded();
}

/** Writes the conversations (plus the records kept verbatim); refuses while the stored data is unreadable; a failed write shows in storageError. */
function persist(): Promise<void> {
  writing = writing.then(async () => {
    if (!(await ensureLoaded())) return;
    try {
      await set('conversations', [...useChat.getState().conversations, ...foreign], db());
      if (useChat.getState().storageError) useChat.setState({ storageError: undefined });
    } catch (e) {
      useChat.setState({
        storageError: `Conversations could not be saved (${(e as Error).name}: ${(e as Error).message}).`,
      });
    }
  });
  return writing;
}

export function chatCurrent(): Conversation | undefined {
  const s = useChat.getState();
  return s.conversations.find((c) => c.id === s.currentId);
}

function replaceConversation(next: Conversation) {
  useChat.setState((s) => ({
    conversations: [next, ...s.conversations.filter((c) => c.id !== next.id)],
    currentId: next.id,
  }));
}

export function chatNew(): Conversation {
  const conversation: Conversation = {
    schemaVersion: CHAT_SCHEMA_VERSION,
    id: `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
    title: 'New conversation',
    system: '', // a new conversation starts clean: the last one's system prompt belongs to it
    turns: [],
    updatedAt: Date.now(),
  };
  replaceConversation(conversation);
  void persist();
  return conversation;
}

export function chatSelect(id: string): void {
  useChat.setState({ currentId: id });
}
export function chatSetSystem(system: string): void {
  const c = chatCurrent() ?? chatNew();
  replaceConversation({ ...c, system });
  void persist();
}
export function chatSetSampling(patch: Partial<Sampling>): void {
  useChat.setState((s) => ({ sampling: { ...s.sampling, ...patch } }));
}
/** One sampling input's text: a valid value is used; anything else is kept as typed, with its message. */
export function chatSetSamplingText(key: SamplingKey, text: string): void {
  const check = samplingCheck(key, text);
  useChat.setState((s) => {
    const { [key]: _, ...samplingIssues } = s.samplingIssues;
    return check.ok
      ? { sampling: { ...s.sampling, [key]: check.value }, samplingIssues }
      : { samplingIssues: { ...samplingIssues, [key]: { text, message: check.message } } };
  });
}
export function chatSetOverrides(overrides: RoutingOverrides): void {
  useChat.setState({ overrides });
}

/** Why an answer cannot start now (a sampling input holds no valid value), or undefined. */
export function chatBlockedReason(s: Pick<ChatState, 'samplingIssues'> = useChat.getState()): string | undefined {
  const labels = (Object.keys(s.samplingIssues) as SamplingKey[]).map((k) => SAMPLING_LIMITS[k].label);
  return labels.length ? `Fix ${labels.join(', ')} in Sampling to send.` : undefined;
}

export async function chatSend(text: string): Promise<void> {
  const blocked = chatBlockedReason();
  if (blocked) return void useChat.setState({ error: blocked });
  const c = chatCurrent() ?? chatNew();
  const turns: ChatTurn[] = [...c.turns, { role: 'user', content: text }];
  replaceConversation({
    ...c,
    turns,
    title: c.turns.length ? c.title : text.slice(0, 40),
    ...loadedModel(),
    updatedAt: Date.now(),
  });
  await runAssistant();
}

function loadedModel(): Pick<Conversation, 'modelId' | 'modelTitle'> {
  const model = useEngine.getState().model;
  return { modelId: model?.id, modelTitle: model?.title };
}

/** Whether a message action may change the conversation now (not while an answer streams). */
function editable(): Conversation | undefined {
  return useChat.getState().streaming ? undefined : chatCurrent();
}

/** Removes one message of the current conversation (the others stay as they are); resolves once saved. */
export function chatDeleteTurn(index: number): Promise<void> {
  const c = editable();
  if (!c?.turns[index]) return Promise.resolve();
  replaceConversation({ ...c, turns: c.turns.filter((_, i) => i !== index), updatedAt: Date.now() });
  return persist();
}

/**
 * Replaces a user message's text and answers it again: everything after that message is
 * dropped, since the later turns answered the old text.
 */
export async function chatEditTurn(index: number, content: string): Promise<void> {
  const c = editable();
  if (c?.turns[index]?.role !== 'user' || !content.trim() || chatBlockedReason()) return;
  const turns = [...c.turns.slice(0, index), { role: 'user' as const, content }];
  // A title taken from the first message follows its edit; a title set otherwise stays.
  const title = index === 0 && c.title === c.turns[0]!.content.slice(0, 40) ? content.slice(0, 40) : c.title;
  replaceConversation({ ...c, turns, title, ...loadedModel(), updatedAt: Date.now() });
  await runAssistant();
}

/** Answers again from one assistant message: it and everything after it are dropped. */
export async function chatRegenerateTurn(index: number): Promise<void> {
  const c = editable();
  if (c?.turns[index]?.role !== 'assistant' || chatBlockedReason()) return;
  replaceConversation({ ...c, turns: c.turns.slice(0, index), ...loadedModel(), updatedAt: Date.now() });
  await runAssistant();
}

/** Drops the last assistant turn and answers again (new sampling/overrides apply). */
export async function chatRegenerate(): Promise<void> {
  const c = chatCurrent();
  if (!c || useChat.getState().streaming || chatBlockedReason()) return;
  const turns = c.turns.at(-1)?.role === 'assistant' ? c.turns.slice(0, -1) : c.turns;
  if (!turns.length) return;
  replaceConversation({ ...c, turns });
  await runAssistant();
}

export function chatStop(): void {
  void engineClient().stop();
}

function toMessages(c: Conversation): ChatMessage[] {
  const out: ChatMessage[] = c.system.trim() ? [{ role: 'system', content: c.system }] : [];
  return out.concat(c.turns.map((t) => ({ role: t.role, content: t.content })));
}

function compactRouting(r?: TokenRouting): TokenRouting | undefined {
  return (
    r && {
      layers: r.layers.map((l) => ({
        expertIds: l.expertIds,
        expertWeights: l.expertWeights.map((w) => Math.round(w * 1e4) / 1e4),
        moeProbs: l.moeProbs.map((p) => Math.round(p * 1e4) / 1e4),
      })),
    }
  );
}

async function runAssistant(): Promise<void> {
  const c = chatCurrent()!;
  const { sampling, overrides } = useChat.getState();
  useChat.setState({ streaming: true, error: undefined, backendNote: undefined });
  tokenStream.reset();
  const received: StreamToken[] = [];
  const deadline = engineEncodeDeadline('the prompt');
  const onEvents = engineCallback((events: EngineEvent[]) => {
    const batch: StreamToken[] = [];
    for (const e of events) {
      if (e.type === 'prompt') deadline.met();
      else if (e.type === 'token') batch.push({ id: e.id, text: e.text, routing: compactRouting(e.routing) });
      else {
        useEngine.setState({ backend: e.backend });
        useChat.setState({ backendNote: e.backend.reason });
      }
    }
    received.push(...batch);
    tokenStream.push(batch);
  });
  let summary: GenerateSummary | undefined;
  let madeWith: AnswerSettings | undefined;
  try {
    const hasOverrides = hasRoutingOverrides(overrides);
    summary = await Promise.race([
      engineClient().generate(
        { messages: toMessages(c), sampling, routing: hasOverrides ? overrides : undefined },
        onEvents,
      ),
      deadline.missed,
    ]);
    const model = useEngine.getState().model;
    madeWith = {
      modelId: model?.id,
      modelTitle: model?.title,
      sampling,
      routing: hasOverrides ? overrides : undefined,
    };
    useEngine.setState({
      prefillTokPerSec: summary.prefillTokPerSec,
      decodeTokPerSec: summary.decodeTokPerSec,
      backend: summary.backend,
    });
  } catch (e) {
    useChat.setState({ error: `${(e as Error).name}: ${(e as Error).message}` });
  } finally {
    deadline.met();
    const latest = chatCurrent() ?? c;
    const content = received.map((t) => t.text).join('');
    if (summary || received.length)
      replaceConversation({
        ...latest,
        turns: [...latest.turns, { role: 'assistant', content, tokens: received, summary, madeWith }],
        updatedAt: Date.now(),
      });
    useChat.setState({ streaming: false });
    await persist();
  }
}
