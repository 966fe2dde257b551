/**
 * Weights of any size for tests of what is decided from shapes alone: `spec`'s tensors as
 * LazyTensors (matrices in `dtype`, vectors in f32) whose read() fails the test.
 */
import { tensorByteLength } from '../quant/dtype-traits.ts';
import type { DType } from '../tensor.ts';
import { hfTensorEntries } from './hf-tensors.ts';
import { loadHfWeightsLazy } from './load-hf.ts';
import { nameTableFor } from './names.ts';
import type { ModelSpec } from './spec.ts';
import type { LazyModelWeights } from './weights.ts';

export function unreadableWeights(spec: ModelSpec, dtype: DType): LazyModelWeights {
  const entries = hfTensorEntries(spec, nameTableFor(spec));
  const infos = new Map(
    entries.map((e) => {
      const d: DType = e.shape.length >= 2 ? dtype : 'f32';
      return [e.name, { dtype: d, shape: e.shape, byteLength: tensorByteLength(d, e.shape) }];
    }),
  );
  return loadHfWeightsLazy(spec, {
    names: () => entries.map((e) => e.name),
    info: (name) => infos.get(name),
    readTensor: async (name) => {
      throw new Error(`tensor '${name}' was read`);
    },
  }).weights;
}

/** 4×TinyLlama-1.1B dims (22 layers) with `experts` experts: the bench's 3.4B MoE at 4. */
export function tinyLlamaMoeSpec(experts: number): ModelSpec {
  return {
    arch: 'mixtral',
    hidden: 2048,
    intermediate: 5632,
    layers: 22,
    heads: 32,
    kvHeads: 4,
    headDim: 64,
    vocab: 32000,
    contextLength: 2048,
    ropeTheta: 10000,
    rmsEps: 1e-5,
    tieEmbeddings: false,
    qkvBias: false,
    ropeStyle: 'half',
    moe: { experts, expertsPerToken: 2, normTopK: true, expertIntermediate: 5632 },
  };
}
