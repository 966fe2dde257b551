import { type KeyboardEvent, useEffect, useRef } from 'react';
import type { StreamToken } from '../../state/token-stream.ts';
import { tokenStream } from '../../state/token-stream.ts';
import { tokenSpan, type HeatLayer, type TokenStyle } from './TokenSpan.ts';

/** A finished message's tokens, coloured; rebuilt only when the tokens or the layer change. */
export function TokenText({ tokens, layer, style }: { tokens: StreamToken[]; layer: HeatLayer; style: TokenStyle }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.replaceChildren(...tokens.map((t) => tokenSpan(t.text, t.routing, layer, style)));
  }, [tokens, layer, style]);
  return (
    // One tab stop per answer; arrow keys then move focus token by token (the detail panel follows focus).
    // biome-ignore lint/a11y/useSemanticElements: a fieldset groups form controls; this is running text with a name
    <div
      ref={ref}
      role="group"
      aria-label="Answer tokens: arrow keys move between tokens"
      // biome-ignore lint/a11y/noNoninteractiveTabindex: the answer's one tab stop (a composite of focusable tokens)
      tabIndex={0}
      className="token-text"
      data-testid="assistant-tokens"
      onKeyDown={moveTokenFocus}
    />
  );
}

/** ArrowRight/ArrowLeft (Home/End) move focus between an answer's token spans; from the group itself, to its first. */
function moveTokenFocus(e: KeyboardEvent<HTMLDivElement>): void {
  const tokens = [...e.currentTarget.querySelectorAll<HTMLElement>('.tok')];
  if (!tokens.length) return;
  const at = tokens.indexOf(document.activeElement as HTMLElement);
  const last = tokens.length - 1;
  const to = { ArrowRight: at < 0 ? 0 : at + 1, ArrowLeft: at - 1, Home: 0, End: last }[e.key];
  if (to === undefined) return;
  e.preventDefault();
  tokens[Math.max(0, Math.min(last, to))]?.focus();
}

/** The live answer: appended token by token from the stream, outside React's render loop. */
export function LiveTokenText({ layer, style }: { layer: HeatLayer; style: TokenStyle }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.replaceChildren(...tokenStream.snapshot().map((t) => tokenSpan(t.text, t.routing, layer, style)));
    return tokenStream.subscribe((e) => {
      if (e.kind === 'reset') el.replaceChildren();
      else el.append(...e.tokens.map((t) => tokenSpan(t.text, t.routing, layer, style)));
    });
  }, [layer, style]);
  return <div ref={ref} className="token-text live" data-testid="live-tokens" aria-live="polite" />;
}
