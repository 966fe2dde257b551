/**
 * Chat: conversations (persisted in IndexedDB with schemaVersion), system prompt, sampling,
 * stop strings, routing overrides, streaming through the library API (src/api: the same
 * engine.chat.completions.create a page or Node program calls, over the studio's engine
 * worker). Tokens stream through token-stream.ts; the finished message (text + compact
 * routing) lands in state once. A conversation that fills the context stops with a notice
 * and a choice (contextNotice): stop there, or drop the oldest turns and go on.
 */
import { markPhase } from '../core/io/marks.ts';
import { create } from 'zustand';
import type { RoutingOverrides } from '../core/runtime/types.ts';
import { hasRoutingOverrides } from '../core/runtime/routing.ts';
import { chatCompletions } from '../api/completions.ts';
import type { ChatCompletions } from '../api/types.ts';
import { compactRouting, completionParams, streamBatcher, summaryOf } from './chat-request.ts';
import { parseStopStrings, SAMPLING_LIMITS, type Sampling, type SamplingKey, samplingCheck } from './chat-sampling.ts';
import {
  type EncodeDeadline,
  engineCallback,
  engineClient,
  engineClientOnCrash,
  engineEncodeDeadline,
} from './workers.ts';
import type { GenerateSummary } from '../../workers/engine/api.ts';
import { engineSettled, useEngine } from './engine.ts';
import { tokenStream, type StreamToken } from './token-stream.ts';

import {
  type AnswerSettings,
  type ChatTurn,
  type Conversation,
  CHAT_SCHEMA_VERSION,
  loadStoredConversations,
  saveStoredConversations,
} from './chat-store.ts';

export {
  type AnswerSettings,
  type ChatTurn,
  type Conversation,
  CHAT_SCHEMA_VERSION,
  type MigrationResult,
  migrateConversation,
} from './chat-store.ts';
export {
  parseStopStrings,
  SAMPLING_LIMITS,
  type Sampling,
  type SamplingCheck,
  type SamplingKey,
  samplingCheck,
} from './chat-sampling.ts';

/**
 * A full context stopped the conversation: before the answer (the prompt did not fit), during
 * it, or — with the oldest turns already dropped — with nothing more to leave out ('message':
 * the last message, or it and its answer, fill the context alone; dropping cannot help).
 */
export interface ContextNotice {
  conversationId: string;
  when: 'prompt' | 'answer' | 'message';
  message: string;
}

export interface ChatState {
  conversations: Conversation[];
  currentId?: string;
  sampling: Sampling;
  /** Sampling inputs whose text is not a valid value: shown with their message; `sampling` keeps the last valid one. */
  samplingIssues: Partial<Record<SamplingKey, { text: string; message: string }>>;
  overrides: RoutingOverrides;
  /** The Stop strings field as typed (its parsed strings are in sampling.stop when valid). */
  stopText: string;
  /** Why the Stop strings field holds no valid value (sampling.stop keeps the last valid one). */
  stopIssue?: string;
  streaming: boolean;
  /** The answer's message was sent while its model loads: the answer starts once it is ready. */
  waitingForModel?: boolean;
  /** The context is full: the notice offers stop or drop-the-oldest-turns. */
  contextNotice?: ContextNotice;
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
  stopText: '',
  streaming: false,
};
export const useChat = create<ChatState>()(() => ({ ...initialChat }));

/**
 * The library API over the studio's engine worker: one request at a time, as for any
 * caller. Made anew after a crash (a request of the dead worker never ends).
 */
let completions: ChatCompletions | undefined;
function chatApi(): ChatCompletions {
  completions ??= chatCompletions(
    {
      generate: (request, onEvents) => engineClient().generate(request, onEvents),
      stop: () => engineClient().stop(),
      callback: engineCallback,
    },
    () => {
      const model = useEngine.getState().model;
      if (!model) throw Object.assign(new Error('engine: no model is loaded'), { name: 'ConfigError' });
      return model;
    },
  );
  return completions;
}
/** Stops the running answer (Stop): it ends with finish_reason 'abort' and its summary. */
let stopAnswer: AbortController | undefined;

engineClientOnCrash((message) => {
  completions = undefined;
  if (useChat.getState().streaming)
    useChat.setState({ streaming: false, error: `BackendError: the engine worker stopped (${message})` });
});

export function chatReset(): void {
  useChat.setState({ ...initialChat }, true);
  loaded = undefined;
  foreign = [];
  completions = undefined;
}

/** Records kept verbatim on every write (another schema version, malformed). */
let foreign: unknown[] = [];
let loaded: Promise<boolean> | undefined;
let writing: Promise<void> = Promise.resolve();

/** Loads once; false (and a visible storageError) when the stored data cannot be read — then nothing is written over it. */
function ensureLoaded(): Promise<boolean> {
  const attempt = (loaded ??= (async () => {
    const r = await loadStoredConversations();
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
      await saveStoredConversations([...useChat.getState().conversations, ...foreign]);
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
/** The Stop strings field's text: valid strings go to sampling.stop; otherwise the text is kept with its message. */
export function chatSetStopText(text: string): void {
  const parsed = parseStopStrings(text);
  useChat.setState((s) =>
    parsed.ok
      ? {
          stopText: text,
          stopIssue: undefined,
          sampling: { ...s.sampling, stop: parsed.stop.length ? parsed.stop : undefined },
        }
      : { stopText: text, stopIssue: parsed.message },
  );
}

/** Why an answer cannot start now (a sampling input holds no valid value), or undefined. */
export function chatBlockedReason(
  s: Pick<ChatState, 'samplingIssues' | 'stopIssue'> = useChat.getState(),
): string | undefined {
  const labels = (Object.keys(s.samplingIssues) as SamplingKey[]).map((k) => SAMPLING_LIMITS[k].label);
  if (s.stopIssue) labels.push('Stop strings');
  return labels.length ? `Fix ${labels.join(', ')} in Sampling to send.` : undefined;
}

export async function chatSend(text: string): Promise<void> {
  markPhase('moe:send');
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
  stopAnswer?.abort();
}

/** The context-full notice's "stop": the conversation stays as it is. */
export function chatContextStop(): void {
  useChat.setState({ contextNotice: undefined });
}

/**
 * The context-full notice's "drop the oldest turns and go on": from now on this conversation
 * leaves out its oldest turns whenever the context fills (the engine keeps the system prompt
 * and the latest turns), and the unanswered message is answered — or the answer the full
 * context cut goes on where it stopped (the API's continue_final_message).
 */
export async function chatContextDropOldest(): Promise<void> {
  const notice = useChat.getState().contextNotice;
  const c = chatCurrent();
  if (!notice || notice.when === 'message' || !c || c.id !== notice.conversationId || useChat.getState().streaming)
    return;
  useChat.setState({ contextNotice: undefined });
  replaceConversation({ ...c, contextOverflow: 'drop_oldest_turns', updatedAt: Date.now() });
  await runAssistant(notice.when === 'answer' && c.turns.at(-1)?.role === 'assistant');
}

/** Tokens of the answer a continuation goes on with (0 for a new answer). */
function answerTokens(c: Conversation, continueAnswer: boolean): number {
  return continueAnswer ? (c.turns.at(-1)?.tokens?.length ?? 0) : 0;
}

/** Answers the conversation's last message, or (continueAnswer) goes on with its last answer. */
async function runAssistant(continueAnswer = false): Promise<void> {
  const c = chatCurrent()!;
  const { sampling, overrides } = useChat.getState();
  useChat.setState({ streaming: true, error: undefined, backendNote: undefined, contextNotice: undefined });
  tokenStream.reset();
  const received: StreamToken[] = [];
  const live = streamBatcher();
  let summary: GenerateSummary | undefined;
  let madeWith: AnswerSettings | undefined;
  const stop = new AbortController();
  stopAnswer = stop;
  let deadline: EncodeDeadline | undefined;
  try {
    if (useEngine.getState().state.kind === 'loading') {
      // Sent while its model loads: the answer starts when the load ends (Stop ends the wait).
      useChat.setState({ waitingForModel: true });
      const settled = await engineSettled(stop.signal);
      useChat.setState({ waitingForModel: false });
      if (!settled) return;
      if (settled.kind === 'failed')
        throw Object.assign(new Error(`the model did not load (${settled.message}): load one, then press Regenerate`), {
          name: settled.errorName,
        });
      const latest = chatCurrent();
      if (latest?.id === c.id && !latest.modelId) replaceConversation({ ...latest, ...loadedModel() });
    }
    deadline = engineEncodeDeadline('the prompt');
    const met = deadline.met;
    const hasOverrides = hasRoutingOverrides(overrides);
    const model = useEngine.getState().model;
    const stream = await chatApi().create(
      { ...completionParams(c, sampling, hasOverrides ? overrides : undefined, continueAnswer), stream: true },
      { signal: stop.signal, onPrompt: met },
    );
    const consume = async () => {
      for await (const chunk of stream) {
        if (chunk.fallback) {
          useEngine.setState({ backend: chunk.fallback });
          useChat.setState({ backendNote: chunk.fallback.reason });
        }
        const routing = chunk.moe.tokens[0];
        if (routing) {
          const token = {
            id: routing.token_id,
            text: chunk.choices[0]!.delta.content ?? '',
            routing: compactRouting(routing.layers),
          };
          received.push(token);
          live.push(token);
        }
        if (chunk.usage) summary = summaryOf(chunk);
      }
    };
    // a tokenizer that hangs on the prompt: the deadline ends the worker and rejects `missed`
    await Promise.race([consume(), deadline.missed]);
    madeWith = {
      modelId: model?.id,
      modelTitle: model?.title,
      sampling,
      routing: hasOverrides ? overrides : undefined,
    };
    if (summary) {
      useEngine.setState({
        prefillTokPerSec: summary.prefillTokPerSec,
        decodeTokPerSec: summary.decodeTokPerSec,
        backend: summary.backend,
      });
      if (summary.stoppedBy === 'contextFull')
        useChat.setState({
          contextNotice: {
            conversationId: c.id,
            // with the oldest turns already dropped, the engine found nothing more to leave out
            when: c.contextOverflow === 'drop_oldest_turns' ? 'message' : 'answer',
            message: `The answer stopped after ${answerTokens(c, continueAnswer) + summary.tokens} tokens: the conversation fills the model's context (${model?.contextLength ?? '?'} tokens).`,
          },
        });
    }
  } catch (e) {
    const err = e as Error;
    if (err.name === 'ContextFullError')
      useChat.setState({
        contextNotice: {
          conversationId: c.id,
          when: c.contextOverflow === 'drop_oldest_turns' ? 'message' : 'prompt',
          message: `The conversation no longer fits the model's context (${useEngine.getState().model?.contextLength ?? '?'} tokens): ${err.message.replace(/^engine: messages: /, '')}.`,
        },
      });
    else useChat.setState({ error: `${err.name}: ${err.message}` });
  } finally {
    deadline?.met();
    live.flush();
    if (stopAnswer === stop) stopAnswer = undefined;
    const latest = chatCurrent() ?? c;
    const content = received.map((t) => t.text).join('');
    const previous = continueAnswer ? latest.turns.at(-1) : undefined;
    if (previous?.role === 'assistant') {
      // The continuation joins the answer it goes on with; the summary counts the whole answer.
      const tokens = [...(previous.tokens ?? []), ...received];
      replaceConversation({
        ...latest,
        turns: [
          ...latest.turns.slice(0, -1),
          {
            ...previous,
            content: previous.content + content,
            tokens,
            summary: summary ? { ...summary, tokens: tokens.length } : previous.summary,
            madeWith: madeWith ?? previous.madeWith,
          },
        ],
        updatedAt: Date.now(),
      });
    } else if (summary || received.length)
      replaceConversation({
        ...latest,
        turns: [...latest.turns, { role: 'assistant', content, tokens: received, summary, madeWith }],
        updatedAt: Date.now(),
      });
    useChat.setState({ streaming: false, waitingForModel: false });
    await persist();
  }
}
