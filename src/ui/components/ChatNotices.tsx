/**
 * Chat's two controls for how an answer ends: the Stop strings field (the API's `stop`) and
 * the notice a full context raises, with its choice (stop here, or drop the oldest turns and
 * go on).
 */
import { useShallow } from 'zustand/react/shallow';
import { chatContextDropOldest, chatContextStop, chatSetStopText, useChat } from '../../state/chat.ts';

/** Stop strings, one per line: the answer ends before the first one it would write (the API's `stop`). */
export function StopStringsField() {
  const { text, issue } = useChat(useShallow((s) => ({ text: s.stopText, issue: s.stopIssue })));
  return (
    <label className="block stop-strings">
      Stop strings{' '}
      <textarea
        rows={2}
        value={text}
        spellCheck={false}
        aria-invalid={issue ? true : undefined}
        aria-describedby={issue ? 'stop-strings-error' : 'stop-strings-hint'}
        onChange={(e) => chatSetStopText(e.target.value)}
      />
      {issue ? (
        <span className="field-error" id="stop-strings-error" data-testid="stop-strings-error">
          {issue}
        </span>
      ) : (
        <span className="muted small" id="stop-strings-hint">
          One per line; \n is a line break. The answer ends before the first one it would write.
        </span>
      )}
    </label>
  );
}

/** The context is full: say so, and offer the two ways on (stop here, or drop the oldest turns and go on). */
export function ContextNoticeBanner({ conversationId }: { conversationId?: string }) {
  const { notice, streaming } = useChat(useShallow((s) => ({ notice: s.contextNotice, streaming: s.streaming })));
  if (!notice || notice.conversationId !== conversationId) return null;
  return (
    <div role="alert" className="banner banner-warning context-notice" data-testid="context-notice">
      <p>{notice.message}</p>
      {notice.when === 'message' ? (
        <p className="muted small">
          The oldest turns are already left out and nothing more can be: a shorter message (Edit) or a new conversation
          goes on.
        </p>
      ) : (
        <p className="muted small">
          Dropping keeps the system prompt and the latest turns; this conversation then drops its oldest turns whenever
          the context fills{notice.when === 'answer' ? ', and the answer goes on where it stopped' : ''}.
        </p>
      )}
      <div className="row wrap">
        <button type="button" onClick={chatContextStop}>
          {notice.when === 'message' ? 'Dismiss' : 'Stop here'}
        </button>
        {notice.when !== 'message' && (
          <button type="button" onClick={() => void chatContextDropOldest()} disabled={streaming}>
            Drop the oldest turns and go on
          </button>
        )}
      </div>
    </div>
  );
}
