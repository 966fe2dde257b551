/** The shapes of the tensor-name tables (names.ts picks a table; names-*.ts hold one per architecture). */

/** A tensor name with optional `{layer}` and `{expert}` placeholders. */
export type NamePattern = string;

export interface GlobalNames {
  embed: NamePattern; // [vocab, hidden]
  finalNorm: NamePattern; // [hidden]
  lmHead: NamePattern; // [vocab, hidden]; absent when embeddings are tied
}

export interface AttentionNames {
  attnNorm: NamePattern; // [hidden]
  wq: NamePattern; // [heads*headDim, hidden]
  wk: NamePattern; // [kvHeads*headDim, hidden]
  wv: NamePattern; // [kvHeads*headDim, hidden]
  wo: NamePattern; // [hidden, heads*headDim]
  bq: NamePattern; // [heads*headDim]     only when spec.qkvBias
  bk: NamePattern; // [kvHeads*headDim]
  bv: NamePattern; // [kvHeads*headDim]
  qNorm: NamePattern; // [headDim]             only when spec.qkNorm
  kNorm: NamePattern; // [headDim]
  ffnNorm: NamePattern; // [hidden]
}

export interface MlpNames {
  gate: NamePattern; // [intermediate, hidden]
  up: NamePattern; // [intermediate, hidden]
  down: NamePattern; // [hidden, intermediate]
}

/** How the feed-forward block of every layer is stored. */
export type FfnNames =
  | { kind: 'dense'; mlp: MlpNames }
  | {
      /** One tensor per expert and projection (`{expert}` placeholder). */
      kind: 'moe';
      router: NamePattern; // [experts, hidden]
      experts: MlpNames;
      shared?: MlpNames; // qwen2_moe
      sharedGate?: NamePattern; // [1, hidden] qwen2_moe
    }
  | {
      /** transformers-v5 fused experts: every expert of a layer in one 3-D tensor. */
      kind: 'moe-fused';
      router: NamePattern; // [experts, hidden]
      gateUp: NamePattern; // [experts, 2*expertIntermediate, hidden]  gate rows first, then up
      down: NamePattern; // [experts, hidden, expertIntermediate]
    };

export interface ArchNameTable {
  /** A name for messages: 'llama', 'mixtral (classic)', … */
  id: string;
  global: GlobalNames;
  attention: AttentionNames;
  ffn: FfnNames;
}

/** Mixtral is stored two ways; the others have one layout. */
export type MixtralLayout = 'classic' | 'fused';
