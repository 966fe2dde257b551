/**
 * Per-token streams reach the chat view and the heatmap through subscribe + ref/canvas, not
 * through React re-renders (STYLE habit 14). One live stream at a time.
 */
import type { TokenRouting } from '../core/runtime/types.ts';

export interface StreamToken {
  id: number;
  text: string;
  routing?: TokenRouting;
}

type Listener = (event: { kind: 'reset' } | { kind: 'tokens'; tokens: StreamToken[] }) => void;

const listeners = new Set<Listener>();
let tokens: StreamToken[] = [];

export const tokenStream = {
  subscribe(listener: Listener): () => void {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  },
  reset(): void {
    tokens = [];
    for (const l of listeners) l({ kind: 'reset' });
  },
  push(batch: StreamToken[]): void {
    tokens = tokens.concat(batch);
    for (const l of listeners) l({ kind: 'tokens', tokens: batch });
  },
  snapshot(): readonly StreamToken[] {
    return tokens;
  },
};
