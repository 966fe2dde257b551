/**
 * Chat: conversations (persisted in IndexedDB with schemaVersion), system prompt, sampling,
 * routing overrides, streaming via the engine. Tokens stream through token-stream.ts; the
 * finished message (text + compact routing) lands in state once.
 */
import { create } from 'zustand';
import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { RoutingOverrides, SamplerOptions, TokenRouting } from '../core/runtime/types.ts';
import type { ChatMessage } from '../core/tokenizer/types.ts';
import { engineCallback, engineClient, engineClientOnCrash } from './engine-client.ts';
import type { EngineEvent, GenerateSummary } from './engine/engine-types.ts';
import { useEngine } from './engine.ts';
import { tokenStream, type StreamToken } from './token-stream.ts';

export const CHAT_SCHEMA_VERSION = 1;

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
  /** Assistant turns: each generated token and its routing. */
  tokens?: StreamToken[];
  summary?: GenerateSummary;
}

export interface Conversation {
  schemaVersion: typeof CHAT_SCHEMA_VERSION;
  id: string;
  title: string;
  modelId?: string;
  system: string;
  turns: ChatTurn[];
  updatedAt: number;
}

export type Sampling = Required<Pick<SamplerOptions, 'temperature' | 'topK' | 'topP' | 'repetitionPenalty'>> & { maxTokens: number; seed?: number };

export interface ChatState {
  conversations: Conversation[];
  currentId?: string;
  sampling: Sampling;
  overrides: RoutingOverrides;
  streaming: boolean;
  error?: string;
  backendNote?: string;
}

const DEFAULT_SAMPLING: Sampling = { temperature: 0.7, topK: 40, topP: 0.95, repetitionPenalty: 1.1, maxTokens: 64 };
const initialChat: ChatState = { conversations: [], sampling: DEFAULT_SAMPLING, overrides: {}, streaming: false };
export const useChat = create<ChatState>()(() => ({ ...initialChat }));

let chatDb: UseStore | undefined;
const db = () => (chatDb ??= createStore('moe-studio-chats', 'conversations'));

engineClientOnCrash((message) => { if (useChat.getState().streaming) useChat.setState({ streaming: false, error: `BackendError: the engine worker stopped (${message})` }); });

export function chatReset(): void {
  useChat.setState({ ...initialChat }, true);
}

export async function chatInit(): Promise<void> {
  const raw = await get<unknown>('conversations', db()).catch(() => undefined);
  const list = Array.isArray(raw) ? raw.filter((c): c is Conversation => (c as Conversation)?.schemaVersion === CHAT_SCHEMA_VERSION) : [];
  useChat.setState({ conversations: list, currentId: list[0]?.id });
}

async function persist(): Promise<void> {
  await set('conversations', useChat.getState().conversations, db()).catch(() => undefined);
}

export function chatCurrent(): Conversation | undefined {
  const s = useChat.getState();
  return s.conversations.find((c) => c.id === s.currentId);
}

function replaceConversation(next: Conversation) {
  useChat.setState((s) => ({ conversations: [next, ...s.conversations.filter((c) => c.id !== next.id)], currentId: next.id }));
}

export function chatNew(): Conversation {
  const conversation: Conversation = {
    schemaVersion: CHAT_SCHEMA_VERSION, id: `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
    title: 'New conversation', system: chatCurrent()?.system ?? '', turns: [], updatedAt: Date.now(),
  };
  replaceConversation(conversation);
  void persist();
  return conversation;
}

export function chatSelect(id: string): void { useChat.setState({ currentId: id }); }
export function chatSetSystem(system: string): void { const c = chatCurrent() ?? chatNew(); replaceConversation({ ...c, system }); void persist(); }
export function chatSetSampling(patch: Partial<Sampling>): void { useChat.setState((s) => ({ sampling: { ...s.sampling, ...patch } })); }
export function chatSetOverrides(overrides: RoutingOverrides): void { useChat.setState({ overrides }); }

export async function chatSend(text: string): Promise<void> {
  const c = chatCurrent() ?? chatNew();
  const turns: ChatTurn[] = [...c.turns, { role: 'user', content: text }];
  replaceConversation({ ...c, turns, title: c.turns.length ? c.title : text.slice(0, 40), modelId: useEngine.getState().model?.id, updatedAt: Date.now() });
  await runAssistant();
}

/** Drops the last assistant turn and answers again (new sampling/overrides apply). */
export async function chatRegenerate(): Promise<void> {
  const c = chatCurrent();
  if (!c || useChat.getState().streaming) return;
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
  return r && { layers: r.layers.map((l) => ({ expertIds: l.expertIds, expertWeights: l.expertWeights.map((w) => Math.round(w * 1e4) / 1e4), moeProbs: l.moeProbs.map((p) => Math.round(p * 1e4) / 1e4) })) };
}

async function runAssistant(): Promise<void> {
  const c = chatCurrent()!;
  const { sampling, overrides } = useChat.getState();
  useChat.setState({ streaming: true, error: undefined, backendNote: undefined });
  tokenStream.reset();
  const received: StreamToken[] = [];
  const onEvents = engineCallback((events: EngineEvent[]) => {
    const batch: StreamToken[] = [];
    for (const e of events) {
      if (e.type === 'token') batch.push({ id: e.id, text: e.text, routing: compactRouting(e.routing) });
      else { useEngine.setState({ backend: e.backend }); useChat.setState({ backendNote: e.backend.reason }); }
    }
    received.push(...batch);
    tokenStream.push(batch);
  });
  let summary: GenerateSummary | undefined;
  try {
    const hasOverrides = overrides.topK !== undefined || !!overrides.ban?.experts.length || !!overrides.force?.experts.length;
    summary = await engineClient().generate({ messages: toMessages(c), sampling, routing: hasOverrides ? overrides : undefined }, onEvents);
    useEngine.setState({ prefillTokPerSec: summary.prefillTokPerSec, decodeTokPerSec: summary.decodeTokPerSec, backend: summary.backend });
  } catch (e) {
    useChat.setState({ error: `${(e as Error).name}: ${(e as Error).message}` });
  } finally {
    const latest = chatCurrent() ?? c;
    const content = received.map((t) => t.text).join('');
    if (summary || received.length) replaceConversation({ ...latest, turns: [...latest.turns, { role: 'assistant', content, tokens: received, summary }], updatedAt: Date.now() });
    useChat.setState({ streaming: false });
    await persist();
  }
}
