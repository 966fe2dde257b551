import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import {
  chatBlockedReason,
  chatDeleteTurn,
  chatEditTurn,
  chatRegenerateTurn,
  type ChatTurn,
  type Conversation,
  useChat,
} from '../../state/chat.ts';
import { engineLoad, useEngine } from '../../state/engine.ts';
import { libraryRefs } from '../../state/library-refs.ts';
import { useLibrary } from '../../state/library.ts';

/** "your message 3" / "answer 4": what a message's buttons act on, in their accessible names. */
export function turnName(turn: ChatTurn, index: number): string {
  return turn.role === 'user' ? `your message ${index + 1}` : `answer ${index + 1}`;
}

/**
 * Copy, edit (your messages), regenerate (answers) and delete, per message. Edit and
 * regenerate drop the messages after that point, so the conversation never holds answers to
 * text that is no longer there.
 */
export function MessageActions({ turn, index, onEdit }: { turn: ChatTurn; index: number; onEdit: () => void }) {
  const { busy, blocked } = useChat(useShallow((s) => ({ busy: s.streaming, blocked: !!chatBlockedReason(s) })));
  const ready = useEngine((s) => s.state.kind === 'ready');
  const [copied, setCopied] = useState('');
  const name = turnName(turn, index);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(turn.content);
      setCopied('Copied.');
    } catch (e) {
      setCopied(`Could not copy (${(e as Error).name}): select the text instead.`);
    }
  };
  return (
    <div className="msg-actions" data-testid="msg-actions">
      <button type="button" className="small-button" aria-label={`Copy ${name}`} onClick={() => void copy()}>
        Copy
      </button>
      {turn.role === 'user' ? (
        <button type="button" className="small-button" aria-label={`Edit ${name}`} disabled={busy} onClick={onEdit}>
          Edit
        </button>
      ) : (
        <button
          type="button"
          className="small-button"
          aria-label={`Regenerate ${name}`}
          disabled={busy || !ready || blocked}
          onClick={() => void chatRegenerateTurn(index)}
        >
          Regenerate
        </button>
      )}
      <button
        type="button"
        className="small-button"
        aria-label={`Delete ${name}`}
        disabled={busy}
        onClick={() => void chatDeleteTurn(index)}
      >
        Delete
      </button>
      <span className="muted small" role="status">
        {copied}
      </span>
    </div>
  );
}

/** Your message, editable in place; sending drops every later message and answers the new text. */
export function EditTurn({ turn, index, onDone }: { turn: ChatTurn; index: number; onDone: () => void }) {
  const [text, setText] = useState(turn.content);
  const ready = useEngine((s) => s.state.kind === 'ready');
  return (
    <form
      className="msg-edit"
      onSubmit={(e) => {
        e.preventDefault();
        onDone();
        void chatEditTurn(index, text);
      }}
    >
      <label className="block">
        Edit {turnName(turn, index)}
        <textarea rows={3} value={text} onChange={(e) => setText(e.target.value)} />
      </label>
      <div className="row">
        <button type="submit" disabled={!ready || !text.trim()}>
          Send edited message
        </button>
        <button type="button" onClick={onDone}>
          Cancel editing
        </button>
        <span className="muted small">The messages after this one are replaced by the new answer.</span>
      </div>
    </form>
  );
}

/** A conversation remembers its model: when another one is loaded, say so and offer to load it back. */
export function ConversationModelNote({ conversation }: { conversation: Conversation | undefined }) {
  const loadedId = useEngine((s) => s.model?.id);
  const busy = useEngine((s) => s.state.kind === 'loading' || s.state.kind === 'generating');
  const { zoo, stored } = useLibrary(useShallow((s) => ({ zoo: s.zoo, stored: s.stored })));
  const modelId = conversation?.modelId;
  if (!conversation || !modelId || modelId === loadedId) return null;
  const ref = libraryRefs(zoo, stored).find((r) => r.ref.id === modelId);
  const title = ref?.title ?? conversation.modelTitle ?? modelId;
  return (
    <p className="note-info" data-testid="conversation-model">
      This conversation was with {title}
      {loadedId ? '; another model is loaded now.' : '.'}{' '}
      {ref ? (
        <button type="button" disabled={busy} onClick={() => void engineLoad(ref.ref)}>
          Load {title}
        </button>
      ) : (
        'That model is no longer in the library.'
      )}
    </p>
  );
}
