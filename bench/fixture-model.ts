/**
 * The realistic-shape bench model: a 4-expert top-2 Mixtral-style MoE with SmolLM2-135M's
 * dimensions per expert (hidden 576, intermediate 1536, 30 layers, 9 heads / 3 kv heads,
 * vocab 49152), random weights (randomModelWeights, seeded), in q8_0 or q4_0.
 * Generated on demand into a temp dir by the bench, never committed.
 */
import type { ModelSpec } from '../src/core/model/spec.ts';
import { randomModelWeights } from '../src/core/model/random.ts';
import type { ModelWeights } from '../src/core/model/weights.ts';

export const BENCH_MOE_SPEC: ModelSpec = {
  arch: 'mixtral',
  hidden: 576,
  intermediate: 1536,
  layers: 30,
  heads: 9,
  kvHeads: 3,
  headDim: 64,
  vocab: 49152,
  contextLength: 2048,
  ropeTheta: 100000,
  rmsEps: 1e-5,
  tieEmbeddings: true,
  qkvBias: false,
  ropeStyle: 'half',
  moe: { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 1536 },
  bosTokenId: 1,
  eosTokenIds: [2],
};

export type BenchQuant = 'q8_0' | 'q4_0';

export function benchMoeWeights(quant: BenchQuant, overrides: Partial<ModelSpec> = {}): ModelWeights {
  return randomModelWeights({ ...BENCH_MOE_SPEC, ...overrides }, 20261122, quant);
}
