import { RotateCcw, SendHorizontal, Square } from 'lucide-react';
import { useEffect, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import {
  chatNew,
  chatRegenerate,
  chatSelect,
  chatBlockedReason,
  chatSend,
  chatSetSamplingText,
  chatSetSystem,
  chatStop,
  SAMPLING_LIMITS,
  type SamplingKey,
  useChat,
} from '../../state/chat.ts';
import { engineSetBackend, useEngine } from '../../state/engine.ts';
import { useSettings } from '../../state/settings.ts';
import type { BackendChoice } from '../../../workers/engine/api.ts';
import { uiGo } from '../../state/ui.ts';
import { useFollowLatest } from '../components/follow-latest.ts';
import { ContextNoticeBanner, StopStringsField } from '../components/ChatNotices.tsx';
import { ConversationModelNote, EditTurn, MessageActions } from '../components/MessageActions.tsx';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { RoutingControls } from '../components/RoutingControls.tsx';
import { LiveTokenText, TokenText } from '../components/TokenText.tsx';
import type { HeatLayer, TokenStyle } from '../components/TokenSpan.ts';
import { useExpertLabels } from '../components/expert-labels.ts';
import { describeRouting, describeSampling, expertColor, expertLabel, formatBytes } from '../format.ts';

/** Below this much weight a model is a demo: the zoo's 3.4M-parameter models are ~14 MB in f32. */
const TINY_MODEL_BYTES = 100 * 1024 ** 2;

function EngineBanner() {
  const { state, progress, model } = useEngine(
    useShallow((s) => ({ state: s.state, progress: s.progress, model: s.model })),
  );
  if (state.kind === 'empty')
    return (
      <p className="muted">
        No model loaded.{' '}
        <button type="button" onClick={() => uiGo('library')}>
          Pick one in the Library
        </button>
      </p>
    );
  if (state.kind === 'loading') {
    return (
      <div role="status" data-testid="engine-loading">
        <p>Loading {state.modelId}…</p>
        {progress && progress.totalBytes > 0 && (
          <ProgressBar
            label={`${progress.phase} ${progress.file}${progress.fromCache ? ' (from the store)' : ''}`}
            done={progress.totalDone}
            total={progress.totalBytes}
          />
        )}
      </div>
    );
  }
  if (state.kind === 'failed')
    return (
      <p role="alert">
        Loading failed ({state.errorName}): {state.message}
      </p>
    );
  const tiny = model !== undefined && model.weightBytes < TINY_MODEL_BYTES;
  return (
    <>
      {tiny && (
        <p className="note-info" data-testid="tiny-model-note">
          {model.title} is a tiny demo model ({formatBytes(model.weightBytes)} of weights): it writes babble in the
          style of its training texts, not real answers. Load a real model from a hub or a folder to chat for real.
        </p>
      )}
      <p className="muted" data-testid="engine-ready">
        {model?.title}: {model?.arch}, {model?.layers} layers
        {model?.experts ? `, ${model.experts} experts (top-${model.expertsPerToken})` : ', dense'}
        {model?.hasChatTemplate ? ', chat template from the tokenizer' : ', no chat template'} · weights{' '}
        {formatBytes(model?.weightBytes)} in the worker
      </p>
    </>
  );
}

function BackendPicker() {
  const choice = useSettings((s) => s.backendChoice);
  return (
    <label>
      Backend{' '}
      <select value={choice} onChange={(e) => void engineSetBackend(e.target.value as BackendChoice)}>
        <option value="auto">automatic (fastest for this device)</option>
        <option value="webgpu">WebGPU</option>
        <option value="wasm">WASM SIMD</option>
        <option value="cpu">CPU reference</option>
      </select>
    </label>
  );
}

function SamplingField({ field }: { field: SamplingKey }) {
  const { value, issue } = useChat(useShallow((s) => ({ value: s.sampling[field], issue: s.samplingIssues[field] })));
  const { label, min, max, step } = SAMPLING_LIMITS[field];
  const messageId = `sampling-${field}-error`;
  return (
    <label>
      {label}{' '}
      <input
        type="number"
        step={step}
        min={min}
        max={max}
        value={issue ? issue.text : value}
        aria-invalid={issue ? true : undefined}
        aria-describedby={issue ? messageId : undefined}
        onChange={(e) => chatSetSamplingText(field, e.target.value)}
      />
      {issue && (
        <span className="field-error" id={messageId} data-testid={messageId}>
          {issue.message} Answers use {value} until then.
        </span>
      )}
    </label>
  );
}

function SamplingControls() {
  return (
    <fieldset className="row wrap">
      <legend>Sampling</legend>
      {(Object.keys(SAMPLING_LIMITS) as SamplingKey[]).map((k) => (
        <SamplingField key={k} field={k} />
      ))}
      <StopStringsField />
    </fieldset>
  );
}

export function ChatPage() {
  const {
    conversations,
    currentId,
    streaming,
    waitingForModel,
    error,
    backendNote,
    storageError,
    storageNote,
    blocked,
  } = useChat(
    useShallow((s) => ({
      waitingForModel: s.waitingForModel,
      blocked: chatBlockedReason(s),
      conversations: s.conversations,
      currentId: s.currentId,
      streaming: s.streaming,
      error: s.error,
      backendNote: s.backendNote,
      storageError: s.storageError,
      storageNote: s.storageNote,
    })),
  );
  const { ready, loading, layers, experts, prefill, decode, loadedId } = useEngine(
    useShallow((s) => ({
      loadedId: s.model?.id,
      ready: s.state.kind === 'ready' || s.state.kind === 'generating',
      loading: s.state.kind === 'loading',
      layers: s.model?.layers ?? 0,
      experts: s.model?.experts ?? 0,
      prefill: s.prefillTokPerSec,
      decode: s.decodeTokPerSec,
    })),
  );
  const current = conversations.find((c) => c.id === currentId);
  const [draft, setDraft] = useState('');
  const [layer, setLayer] = useState<HeatLayer>('majority');
  const [tokenStyle, setTokenStyle] = useState<TokenStyle>('underline');
  const [editing, setEditing] = useState<number | undefined>();
  // biome-ignore lint/correctness/useExhaustiveDependencies: an edit belongs to the conversation it started in
  useEffect(() => setEditing(undefined), [currentId]);
  const expertNames = useExpertLabels().map((l) => l.donor);
  const detailRef = useRef<HTMLPreElement>(null);
  const messagesRef = useRef<HTMLDivElement>(null);
  const { behind, jumpToLatest } = useFollowLatest(messagesRef);
  // biome-ignore lint/correctness/useExhaustiveDependencies: another conversation opens at its newest message
  useEffect(jumpToLatest, [currentId]);
  const showTokenDetail = (target: HTMLElement) => {
    const tok = target.closest('.tok') as HTMLElement | null;
    if (tok && detailRef.current)
      detailRef.current.textContent = `“${tok.firstChild?.textContent ?? ''}”\n${tok.title}`;
  };
  const send = () => {
    // While the model loads a message may be sent: its answer starts once the model is ready.
    if (!draft.trim() || streaming || !(ready || loading) || blocked) return;
    const text = draft;
    setDraft('');
    jumpToLatest(); // a new message of one's own: follow its answer again
    void chatSend(text);
  };
  return (
    <div className="page chat-page" data-testid="page-chat">
      <aside className="card conversations" aria-label="Conversations">
        <button type="button" onClick={() => chatNew()}>
          New conversation
        </button>
        <ul>
          {conversations.map((c) => (
            <li key={c.id}>
              <button
                type="button"
                aria-current={c.id === currentId ? 'true' : undefined}
                onClick={() => chatSelect(c.id)}
              >
                {c.title}
                {c.modelTitle && <span className="conversation-model">{c.modelTitle}</span>}
              </button>
            </li>
          ))}
        </ul>
      </aside>
      <section className="card chat-main" aria-label="Chat">
        <EngineBanner />
        <ConversationModelNote conversation={current} />
        {storageError && (
          <p role="alert" className="banner banner-error" data-testid="chat-storage-error">
            {storageError}
          </p>
        )}
        {storageNote && (
          <p role="status" className="banner banner-info" data-testid="chat-storage-note">
            {storageNote}
          </p>
        )}
        <label className="block">
          System prompt{' '}
          <textarea rows={2} value={current?.system ?? ''} onChange={(e) => chatSetSystem(e.target.value)} />
        </label>
        <div
          role="log"
          aria-label="Conversation"
          ref={messagesRef}
          className="messages"
          data-testid="messages"
          onMouseOver={(e) => showTokenDetail(e.target as HTMLElement)}
          onFocus={(e) => showTokenDetail(e.target as HTMLElement)}
        >
          {current?.turns.map((t, i) => (
            <div key={i} className={`msg msg-${t.role}`} data-testid={`msg-${t.role}`}>
              <div className="msg-role">{t.role}</div>
              {editing === i ? (
                <EditTurn turn={t} index={i} onDone={() => setEditing(undefined)} />
              ) : t.role === 'assistant' && t.tokens?.length ? (
                <TokenText tokens={t.tokens} layer={layer} style={tokenStyle} />
              ) : (
                <div className="msg-text">{t.content}</div>
              )}
              {t.summary && (
                <div className="muted small" data-testid="answer-summary">
                  {t.summary.tokens} tokens · {t.summary.backend.name} · prefill {t.summary.prefillTokPerSec.toFixed(1)}{' '}
                  tok/s · decode {t.summary.decodeTokPerSec.toFixed(1)} tok/s · stopped by {t.summary.stoppedBy}
                  {t.summary.cachedTokens
                    ? ` · ${t.summary.cachedTokens} of ${t.summary.promptTokens} prompt tokens reused from the last turn`
                    : ''}
                  {t.summary.droppedMessages
                    ? ` · ${t.summary.droppedMessages} oldest message${t.summary.droppedMessages === 1 ? '' : 's'} left out to fit the context`
                    : ''}
                </div>
              )}
              {t.madeWith && (
                <div className="muted small" data-testid="answer-made-with">
                  {t.madeWith.modelTitle ?? t.madeWith.modelId ?? 'unknown model'} ·{' '}
                  {describeSampling(t.madeWith.sampling)}
                  {t.madeWith.routing
                    ? ` · routing: ${describeRouting(t.madeWith.routing, (e) =>
                        // donors of the loaded model; an answer of another model keeps its numbers
                        t.madeWith?.modelId === loadedId ? expertLabel(expertNames, e) : `E${e}`,
                      )}`
                    : ''}
                </div>
              )}
              {editing !== i && <MessageActions turn={t} index={i} onEdit={() => setEditing(i)} />}
            </div>
          ))}
          {streaming && (
            <div className="msg msg-assistant">
              <div className="msg-role">assistant</div>
              {waitingForModel && (
                <p className="muted" role="status" data-testid="waiting-for-model">
                  The answer starts when the model has loaded…
                </p>
              )}
              <LiveTokenText layer={layer} style={tokenStyle} />
            </div>
          )}
        </div>
        {behind && (
          <button type="button" className="jump-latest" onClick={jumpToLatest}>
            Jump to latest
          </button>
        )}
        <pre className="token-detail" ref={detailRef} aria-live="polite" data-testid="token-detail">
          Hover a token to see its experts at every layer.
        </pre>
        <ContextNoticeBanner conversationId={current?.id} />
        {error && <p role="alert">{error}</p>}
        {backendNote && (
          <p role="status" className="banner banner-info">
            {backendNote}
          </p>
        )}
        <form
          className="composer"
          onSubmit={(e) => {
            e.preventDefault();
            send();
          }}
        >
          <label className="block">
            Message{' '}
            <textarea
              rows={3}
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !e.shiftKey) {
                  e.preventDefault();
                  send();
                }
              }}
            />
          </label>
          <div className="row wrap">
            <button type="submit" className="primary" disabled={!(ready || loading) || streaming || !!blocked}>
              <SendHorizontal className="icon" aria-hidden="true" /> Send
            </button>
            <button type="button" className="secondary" onClick={chatStop} disabled={!streaming}>
              <Square className="icon" aria-hidden="true" /> Stop
            </button>
            <button
              type="button"
              onClick={() => void chatRegenerate()}
              disabled={!ready || streaming || !current?.turns.length || !!blocked}
              className="secondary"
            >
              <RotateCcw className="icon" aria-hidden="true" /> Regenerate
            </button>
            {blocked && (
              <span className="field-error" data-testid="send-blocked">
                {blocked}
              </span>
            )}
            <span className="muted">
              {decode ? `prefill ${prefill?.toFixed(1)} tok/s · decode ${decode.toFixed(1)} tok/s` : ''}
            </span>
          </div>
        </form>
      </section>
      <aside className="card chat-side" aria-label="Generation and routing controls">
        <BackendPicker />
        <SamplingControls />
        {experts > 0 && (
          <>
            <label>
              Colour tokens by{' '}
              <select
                value={String(layer)}
                onChange={(e) => setLayer(e.target.value === 'majority' ? 'majority' : Number(e.target.value))}
              >
                <option value="majority">most layers</option>
                {Array.from({ length: layers }, (_, l) => (
                  <option key={l} value={l}>
                    layer {l}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <input
                type="checkbox"
                checked={tokenStyle === 'tint'}
                onChange={(e) => setTokenStyle(e.target.checked ? 'tint' : 'underline')}
              />
              Tint token backgrounds (instead of underlining)
            </label>
            <ul className="legend" aria-label="Expert colours">
              {Array.from({ length: experts }, (_, e) => (
                <li key={e}>
                  <i style={{ background: expertColor(e) }} aria-hidden="true" /> {expertLabel(expertNames, e)}
                </li>
              ))}
            </ul>
            <p className="muted small">Stronger colour: a higher weight (or more layers agreeing).</p>
            <RoutingControls experts={experts} names={expertNames} />
          </>
        )}
      </aside>
    </div>
  );
}
