/**
 * Performance marks at the boundaries of "open the page → first token" (User Timing, so a
 * Playwright run or the DevTools performance panel sees them; bench/ttft.ts reads them from
 * the page and the engine worker). Each name keeps only its latest mark, so a long session
 * does not pile them up. `performance` exists in pages, workers and Node alike.
 */
export type PhaseMark =
  | 'moe:main' // the app bundle has run (src/ui/main.tsx)
  | 'moe:rendered' // the studio's first render is on screen (App mounted)
  | 'moe:zoo-listed' // the zoo index is read: its "Chat with" buttons can show
  | 'moe:engine-worker-start' // the engine worker's bundle has run
  | 'moe:spares-ready' // engine warm-up: WASM kernels compiled, thread-pool workers started
  | 'moe:load-start' // the page asked the engine to load a model ("Chat with")
  | 'moe:model-read' // loadModel done: files read and parsed, tokenizer built
  | 'moe:session-open' // backend session open: kernels compiled, threads started, weights packed
  | 'moe:engine-ready' // the page knows the model is ready
  | 'moe:send' // the user sent a message
  | 'moe:prompt-encoded' // chat template rendered and tokenized (engine worker)
  | 'moe:first-token-out'; // the first answer token left the engine

export function markPhase(name: PhaseMark): void {
  globalThis.performance?.clearMarks?.(name);
  globalThis.performance?.mark?.(name);
}
