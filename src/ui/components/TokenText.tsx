import { useEffect, useRef } from 'react';
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
  return <div ref={ref} className="token-text" data-testid="assistant-tokens" />;
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
