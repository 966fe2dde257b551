/**
 * What the engine reports about a loaded model (ModelSummary), and how long its KV cache is.
 */
import { ConfigError } from '../../src/core/errors.ts';
import type { ExportableModel } from '../../src/core/model/load.ts';
import { tensorBytes } from '../../src/core/model/weights.ts';
import type { ModelSummary } from './api.ts';

/** The KV cache length when the caller names none (the tab's chat); the library API may ask for the model's whole context. */
const DEFAULT_MAX_CONTEXT = 1024;

/**
 * The KV cache length: the caller's `contextLength` (checked against the model's own), else
 * the model's capped at DEFAULT_MAX_CONTEXT (the tab's memory budget for the cache).
 */
export function sessionContextLength(modelContext: number, requested: number | undefined): number {
  if (requested === undefined) return Math.min(DEFAULT_MAX_CONTEXT, modelContext);
  if (!Number.isInteger(requested) || requested < 2 || requested > modelContext)
    throw new ConfigError(
      `engine: contextLength ${requested} must be an integer from 2 to the model's ${modelContext}`,
    );
  return requested;
}

export function summarize(id: string, title: string, model: ExportableModel, contextLength: number): ModelSummary {
  const { spec, weights } = model;
  let weightBytes = tensorBytes(weights.embed) + (weights.lmHead ? tensorBytes(weights.lmHead) : 0);
  for (const layer of weights.layers) {
    const mlps = layer.moe ? layer.moe.experts : layer.mlp ? [layer.mlp] : [];
    for (const t of [
      layer.wq,
      layer.wk,
      layer.wv,
      layer.wo,
      layer.moe?.router,
      ...mlps.flatMap((m) => [m.gate, m.up, m.down]),
    ])
      weightBytes += t ? tensorBytes(t) : 0;
  }
  // Compiled, never rendered here: a render is untrusted work (core/tokenizer/guard.ts), and a load has no deadline.
  const hasChatTemplate = model.tokenizer?.hasChatTemplate() ?? false;
  return {
    id,
    title,
    arch: spec.arch,
    layers: spec.layers,
    hidden: spec.hidden,
    vocab: spec.vocab,
    experts: spec.moe?.experts ?? 0,
    expertsPerToken: spec.moe?.expertsPerToken ?? 0,
    hasChatTemplate,
    weightBytes,
    contextLength,
  };
}
