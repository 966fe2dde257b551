/**
 * Router (gate) computation, specs/mergekit-moe.md §4 (`moe/router.py get_gate_params`).
 *
 * Output G: one Float32Array per layer, [nRows, hidden] row-major, rows = gate owners in
 * config order (experts, then the shared expert when it takes part). Router weight of
 * layer l is G[l] rows 0..E-1 (nn.Linear(H, E).weight orientation: logits = W · x).
 *
 *   hidden / hidden_last  last token's residual-stream input of every layer, mean over prompts,
 *                         minus the negatives' mean, L2-normalized per layer; bf16 emulated
 *   hidden_avg            same, but each prompt's states are first averaged over its tokens
 *   cheap_embed           Σ embed rows over every token of every prompt (fp32), normalized,
 *                         negatives likewise, difference normalized; same row for every layer
 *   random                N(0,1), unnormalized          uniform_random  U(±1/√H)
 */
import { CancelledError, ConfigError } from '../errors.ts';
import type { GateMode } from '../formats/mergekit-yaml.ts';
import { dequantize } from '../quant/convert.ts';
import type { RawTensor } from '../tensor.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { fillNormal, mulberry32 } from '../model/random.ts';
import { createYielder } from './cooperative.ts';
import { meanBf16, normalizeRow, roundBf16Array, subtractBf16 } from './bf16.ts';

/** One gate row's prompts (an expert or the shared expert). */
export interface GateOwner {
  positivePrompts: string[] | null;
  negativePrompts: string[] | null;
}

/** The base dense model, as the hidden modes need it. */
export interface BaseForward {
  /** Residual-stream input of every layer at the last of `tokenIds` (fresh context each call): [layers][hidden]. */
  lastTokenLayerInputs(tokenIds: number[]): Promise<Float32Array[]>;
  /** Same, for every position: [tokens][layers][hidden]. */
  allTokenLayerInputs(tokenIds: number[]): Promise<Float32Array[][]>;
}

export interface GateContext {
  layers: number;
  hidden: number;
  tokenizer?: Tokenizer;
  /** Base `model.embed_tokens.weight` [vocab, hidden] (cheap_embed). */
  loadEmbedding?: () => Promise<RawTensor>;
  /** Base model forward (hidden modes). */
  base?: BaseForward;
  /** Seed of the random modes (--random-seed). */
  seed: number;
  signal?: AbortSignal;
  onPrompt?: (done: number, total: number) => void;
}

/** Each prompt as text `bos_token + prompt`, tokenized without special tokens (§4.1). */
export function tokenizePrompts(tokenizer: Tokenizer, prompts: string[]): number[][] {
  return prompts.map((p) => tokenizer.encode((tokenizer.bosToken ?? '') + p, { addSpecialTokens: false }));
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError('merge: cancelled while computing gates');
}

/** [layers][hidden] for one batch of prompts, hidden modes (before subtraction/normalization). */
async function hiddenBatch(ctx: GateContext, ids: number[][], average: boolean): Promise<Float32Array[]> {
  const base = ctx.base!;
  const perPrompt: Float32Array[][] = []; // [prompts][layers][hidden]
  const yieldTurn = createYielder();
  for (const tokenIds of ids) {
    await yieldTurn();
    throwIfAborted(ctx.signal);
    if (tokenIds.length === 0)
      throw new ConfigError(
        'merge: a prompt tokenized to no tokens (the base tokenizer has no BOS); hidden gates need at least one token',
      );
    if (!average) {
      perPrompt.push((await base.lastTokenLayerInputs(tokenIds)).map((h) => roundBf16Array(Float32Array.from(h))));
    } else {
      const states = await base.allTokenLayerInputs(tokenIds); // [tokens][layers][hidden]
      perPrompt.push(
        Array.from({ length: ctx.layers }, (_, l) =>
          meanBf16(states.map((t) => roundBf16Array(Float32Array.from(t[l]!)))),
        ),
      );
    }
  }
  return Array.from({ length: ctx.layers }, (_, l) => meanBf16(perPrompt.map((p) => p[l]!)));
}

/** cheap_embed for one batch: Σ embed[id] (fp32: per prompt over tokens, then over prompts), normalized. */
function cheapEmbedBatch(embed: Float32Array, vocab: number, hidden: number, ids: number[][]): Float32Array {
  const total = new Float32Array(hidden);
  for (const tokenIds of ids) {
    const perPrompt = new Float32Array(hidden);
    for (const id of tokenIds) {
      if (id < 0 || id >= vocab)
        throw new ConfigError(`merge: cheap_embed token id ${id} is outside the embedding's ${vocab} rows`);
      for (let i = 0; i < hidden; i++) perPrompt[i] = perPrompt[i]! + embed[id * hidden + i]!;
    }
    for (let i = 0; i < hidden; i++) total[i] = total[i]! + perPrompt[i]!;
  }
  return normalizeRow(total, false);
}

function randomGates(mode: 'random' | 'uniform_random', ctx: GateContext, nRows: number): Float32Array[] {
  const uniform = mulberry32(ctx.seed >>> 0);
  const scale = Math.sqrt(1 / ctx.hidden);
  // torch.randn((L, N, H)) fills layer-major, so draw layer by layer in that order.
  return Array.from({ length: ctx.layers }, () => {
    const g = new Float32Array(nRows * ctx.hidden);
    if (mode === 'random') return fillNormal(g, uniform, 1);
    for (let i = 0; i < g.length; i++) g[i] = uniform() * 2 * scale - scale;
    return g;
  });
}

/** One owner's (L, H) rows for the hidden modes: means, subtraction, per-layer normalization in bf16. */
async function hiddenOwnerRows(ctx: GateContext, owner: GateOwner, average: boolean): Promise<Float32Array[]> {
  const tokenizer = ctx.tokenizer!;
  let v = await hiddenBatch(ctx, tokenizePrompts(tokenizer, owner.positivePrompts ?? []), average);
  if (owner.negativePrompts?.length) {
    const neg = await hiddenBatch(ctx, tokenizePrompts(tokenizer, owner.negativePrompts), average);
    v = v.map((row, l) => subtractBf16(row, neg[l]!));
  }
  return v.map((row) => normalizeRow(row, true));
}

async function cheapEmbedOwnerRow(
  ctx: GateContext,
  owner: GateOwner,
  embed: Float32Array,
  vocab: number,
): Promise<Float32Array> {
  const tokenizer = ctx.tokenizer!;
  let v = cheapEmbedBatch(embed, vocab, ctx.hidden, tokenizePrompts(tokenizer, owner.positivePrompts ?? []));
  if (owner.negativePrompts?.length) {
    const neg = cheapEmbedBatch(embed, vocab, ctx.hidden, tokenizePrompts(tokenizer, owner.negativePrompts));
    v = v.map((x, i) => x - neg[i]!) as Float32Array;
  }
  return normalizeRow(v, false);
}

function needs(what: string, mode: GateMode): ConfigError {
  return new ConfigError(`merge: gate_mode '${mode}' needs ${what}`);
}

/** G = one [owners.length, hidden] Float32Array per layer. */
export async function computeGates(mode: GateMode, owners: GateOwner[], ctx: GateContext): Promise<Float32Array[]> {
  const { layers, hidden } = ctx;
  if (mode === 'random' || mode === 'uniform_random') return randomGates(mode, ctx, owners.length);
  if (!ctx.tokenizer) throw needs('the base model tokenizer', mode);
  const gates = Array.from({ length: layers }, () => new Float32Array(owners.length * hidden));
  if (mode === 'cheap_embed') {
    if (!ctx.loadEmbedding) throw needs("the base model's model.embed_tokens.weight", mode);
    const embedTensor = await ctx.loadEmbedding();
    const embed = dequantize(embedTensor); // [vocab, hidden] f32
    const vocab = embedTensor.shape[0]!;
    for (let o = 0; o < owners.length; o++) {
      throwIfAborted(ctx.signal);
      const row = await cheapEmbedOwnerRow(ctx, owners[o]!, embed, vocab);
      for (const g of gates) g.set(row, o * hidden);
      ctx.onPrompt?.(o + 1, owners.length);
    }
    return gates;
  }
  if (!ctx.base) throw needs('a forward pass of the base model', mode);
  const average = mode === 'hidden_avg';
  for (let o = 0; o < owners.length; o++) {
    const rows = await hiddenOwnerRows(ctx, owners[o]!, average);
    rows.forEach((row, l) => gates[l]!.set(row, o * hidden));
    ctx.onPrompt?.(o + 1, owners.length);
  }
  return gates;
}
