/**
 * Routing preview before merging: the gates the merge would compute (computeGates
 * on the base model), applied to each token of a test text at every layer with the routing
 * rule every backend uses (routeToken). Experts are never loaded. The router input is
 * approximated by each layer's residual-stream input — the same states the hidden gates
 * are built from — so the preview shows what the gates prefer, not the exact post-attention
 * routing of the built model.
 */
import type { MoeMergeConfig } from '../../src/core/formats/mergekit-yaml.ts';
import { createMergeRuntime, openBaseForwardOn } from '../../src/core/merge/default-runtime.ts';
import type { MergeRuntime } from '../../src/core/merge/run.ts';
import { computeGates, tokenizePrompts } from '../../src/core/merge/gates.ts';
import type { MergeInputs } from '../../src/core/merge/sources.ts';
import { modelReferenceKey } from '../../src/core/formats/mergekit-yaml.ts';
import { cpuBackend } from '../../src/core/runtime/cpu/backend.ts';
import { planRouting, routeToken } from '../../src/core/runtime/routing.ts';
import type { TokenRouting } from '../../src/core/runtime/types.ts';
import type { AnalyzedText } from '../../src/core/runtime/types.ts';

const MAX_PREVIEW_TOKENS = 128;

/** `runtime` loads the base's tokenizer (the merge worker's reports each call to the page's deadline). */
export async function previewRouting(
  config: MoeMergeConfig,
  inputs: MergeInputs,
  text: string,
  runtime: MergeRuntime = createMergeRuntime(),
): Promise<AnalyzedText> {
  const base = inputs.models.get(modelReferenceKey(config.baseModel))!;
  const tokenizer = await runtime.loadTokenizer(base.files);
  const layers = Number(base.config.num_hidden_layers);
  const hidden = Number(base.config.hidden_size);
  const owners = config.experts.map((e) => ({
    positivePrompts: e.positivePrompts,
    negativePrompts: e.negativePrompts,
  }));
  const ids = tokenizer.encode(text, { addSpecialTokens: false }).slice(0, MAX_PREVIEW_TOKENS);
  const promptLengths = owners.flatMap((o) =>
    tokenizePrompts(tokenizer, [...(o.positivePrompts ?? []), ...(o.negativePrompts ?? [])]).map((p) => p.length),
  );
  const forward = await openBaseForwardOn(cpuBackend, base, Math.max(1, ids.length, ...promptLengths));
  try {
    const gates = await computeGates(config.gateMode, owners, {
      layers,
      hidden,
      tokenizer,
      base: forward,
      seed: 0,
      loadEmbedding: () => base.tensors.readTensor('model.embed_tokens.weight'),
    }); // [layers] × [experts, hidden]
    if (ids.length === 0) return { pieces: [], routing: [] };
    const states = await forward.allTokenLayerInputs(ids); // [tokens][layers][hidden]
    const moe = {
      experts: owners.length,
      expertsPerToken: config.expertsPerToken,
      normTopK: true,
      expertIntermediate: 0,
    };
    const routingPlan = planRouting(moe, gates.length);
    const routing: TokenRouting[] = states.map((perLayer) => ({
      layers: perLayer.map((x, l) => {
        const logits = new Float32Array(owners.length); // routerLogits // [experts]
        for (let e = 0; e < owners.length; e++) {
          let dot = 0;
          for (let h = 0; h < hidden; h++) dot += gates[l][e * hidden + h] * x[h];
          logits[e] = dot;
        }
        return routeToken(logits, moe, routingPlan.layers[l]!);
      }),
    }));
    return { pieces: ids.map((id) => tokenizer.decode([id])), routing };
  } finally {
    forward.dispose();
  }
}
