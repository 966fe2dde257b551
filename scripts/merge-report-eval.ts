/**
 * Evaluation helpers for scripts/merge-report.ts: perplexity and top-1 routing shares of a
 * model over held-out text, token by token on the CPU reference backend.
 */
import { cpuBackend } from '../src/core/runtime/cpu/backend.ts';
import type { ModelWeights } from '../src/core/model/weights.ts';
import type { RoutingOverrides } from '../src/core/runtime/types.ts';

export interface EvalResult {
  /** exp(mean negative log-likelihood of each next token). */
  perplexity: number;
  tokens: number;
  /** MoE only: top1[layer][expert] = tokens whose top-1 expert at that layer is `expert`. */
  top1?: number[][];
  /** MoE only: experts each token was routed to, averaged over tokens and layers. */
  meanExpertsPerToken?: number;
  /** Sum of the next-token negative log-likelihoods (nats), to pool domains. */
  nll: number;
}

function logSoftmaxAt(logits: Float32Array, index: number): number {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  return logits[index]! - max - Math.log(sum);
}

/** Splits ids into windows of at most `window` tokens (each window is evaluated from an empty cache). */
export function windows(ids: number[], window: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < ids.length; i += window) out.push(ids.slice(i, i + window));
  return out.filter((w) => w.length > 1);
}

export async function evaluate(
  weights: ModelWeights,
  chunks: number[][],
  routing?: RoutingOverrides,
): Promise<EvalResult> {
  const moe = weights.spec.moe;
  const session = await cpuBackend.createSession(weights, { maxContext: Math.max(...chunks.map((c) => c.length)) });
  const top1 = moe
    ? Array.from({ length: weights.spec.layers }, () => new Array<number>(moe.experts).fill(0))
    : undefined;
  let nll = 0;
  let count = 0;
  let routed = 0; // Σ over tokens and layers of the experts chosen
  let routings = 0;
  for (const chunk of chunks) {
    session.truncate(0);
    for (let i = 0; i < chunk.length; i++) {
      const result = await session.forward([chunk[i]!], { trace: moe !== undefined, ...(routing ? { routing } : {}) });
      result.routing?.[0]?.layers.forEach((layer, l) => {
        top1![l]![layer.expertIds[0]!]!++;
        routed += layer.expertIds.length;
        routings++;
      });
      if (i + 1 < chunk.length) {
        nll -= logSoftmaxAt(result.logits, chunk[i + 1]!);
        count++;
      }
    }
  }
  session.dispose();
  const result: EvalResult = { perplexity: Math.exp(nll / count), tokens: count, nll };
  if (top1) {
    result.top1 = top1;
    result.meanExpertsPerToken = routed / routings;
  }
  return result;
}

/** Share of tokens per expert, averaged over layers: [experts]. */
export function averageShares(top1: number[][]): number[] {
  const experts = top1[0]!.length;
  const shares = new Array<number>(experts).fill(0);
  for (const layer of top1) {
    const total = layer.reduce((a, b) => a + b, 0);
    layer.forEach((n, e) => {
      shares[e] = shares[e]! + n / total / top1.length;
    });
  }
  return shares;
}
