/**
 * The merge's default runtime: the HF tokenizer (B1) and the CPU reference backend (B2) on
 * the base model only, for the hidden gate modes. Kept apart from run.ts so the merge core
 * can be driven with any tokenizer/backend (tests, the worker).
 */
import { parseHfConfig } from '../model/hf-config.ts';
import { loadHfWeights } from '../model/load-hf.ts';
import { cpuBackend } from '../runtime/cpu/backend.ts';
import type { Backend } from '../runtime/types.ts';
import type { TokenizerGuard } from '../tokenizer/guard.ts';
import { loadHfTokenizer } from '../tokenizer/hf.ts';
import type { BaseForward } from './gates.ts';
import type { MergeRuntime } from './run.ts';
import type { OpenedModel } from './sources.ts';

/** Residual-stream inputs of the base model, one prompt at a time with a fresh KV cache. */
export async function openBaseForwardOn(
  backend: Backend,
  base: OpenedModel,
  maxTokens: number,
): Promise<BaseForward & { dispose(): void }> {
  const spec = parseHfConfig(base.config, `${base.label}/config.json`);
  const { weights } = await loadHfWeights(spec, base.tensors);
  const session = await backend.createSession(weights, { maxContext: Math.max(1, maxTokens) });
  return {
    async lastTokenLayerInputs(tokenIds) {
      session.truncate(0);
      const result = await session.forward(tokenIds, { captureLayerInputs: true });
      return result.layerInputs!;
    },
    async allTokenLayerInputs(tokenIds) {
      session.truncate(0);
      const states: Float32Array[][] = [];
      for (const id of tokenIds) states.push((await session.forward([id], { captureLayerInputs: true })).layerInputs!);
      return states;
    },
    dispose: () => session.dispose(),
  };
}

/** `guard`: where the base tokenizer's untrusted calls run (tokenizer/guard.ts); absent, in this thread. */
export function createMergeRuntime(backend: Backend = cpuBackend, guard?: TokenizerGuard): MergeRuntime {
  return {
    loadTokenizer: async (files) => {
      const tokenizer = await loadHfTokenizer(files);
      return guard ? guard(tokenizer) : tokenizer;
    },
    openBaseForward: (base, maxTokens) => openBaseForwardOn(backend, base, maxTokens),
  };
}
