/**
 * What every engine measurement returns to bench/run.ts (page → Playwright → Node).
 * Times in ms from performance.now(); decodeMs[i] is the gap before generated token i+2.
 */
export interface EngineRun {
  engine: string;
  ttftMs: number; // prompt in → first generated token out (prefill + one sample)
  decodeMs: number[]; // per-token gaps after the first generated token
  loadMs: number; // file fetched → ready to run
  threads: number;
  crossOriginIsolated?: boolean;
  peakRssBytes?: number; // filled by run.ts from /proc (renderer VmHWM, or the child's maxRSS)
  /** CPU-seconds ÷ wall-seconds over prefill + decode (renderer processes, or the native child): cores kept busy. */
  coresBusy?: number;
  note?: string;
  /** Weight bytes one decode token reads (attention + the chosen experts + lm_head), in the engine's own layout. */
  weightBytesPerToken?: number;
  /** WebGPU only: per-decode-token counters, when the backend exposes them. */
  counters?: Record<string, number>;
}

export interface PageRequest {
  ggufUrl: string;
  promptIds: number[];
  promptText: string;
  decodeTokens: number;
  threads: number;
  /** Token ids wllama must never sample (byte pieces, EOS): it cannot print broken UTF-8. */
  bannedIds: number[];
}
