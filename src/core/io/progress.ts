/**
 * Typed progress shared by hub downloads, store imports and engine loads (STYLE anti-pattern
 * "stringly progress"): the UI shows MB, per file and in aggregate, also when the bytes come
 * from the local store (fromCache).
 */
export type LoadPhase = 'listing' | 'downloading' | 'storing' | 'verifying' | 'reading' | 'loading' | 'done';

export interface LoadProgress {
  phase: LoadPhase;
  /** The file this event is about ('' for aggregate-only events). */
  file: string;
  /** Bytes of `file` done so far and its size. */
  bytesDone: number;
  bytesTotal: number;
  /** True when the bytes come from IndexedDB or a resumed part rather than the network. */
  fromCache: boolean;
  /** Aggregate over every file of the model. */
  totalDone: number;
  totalBytes: number;
}

export type OnLoadProgress = (progress: LoadProgress) => void;

export type ModelLoadPhase = 'config' | 'tensors' | 'tokenizer' | 'done';

/** A model loader's progress (loadModel): bytes of tensor data read so far out of the total. */
export interface ModelLoadProgress {
  phase: ModelLoadPhase;
  /** The shard or file being read ('' when none). */
  file: string;
  bytesDone: number;
  bytesTotal: number;
}
