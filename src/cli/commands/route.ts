/**
 * `moe-studio route <model> (--prompt TEXT [--chat] | --ids 1,2,3) [--json]`
 *
 * Runs the prompt once (prefill with trace) and shows where every token went: per token,
 * per MoE layer, the chosen experts and their weights, then each layer's expert usage.
 * The terminal version of the studio's routing heatmap.
 */
import { ConfigError } from '../../core/errors.ts';
import type { LayerRouting } from '../../core/runtime/types.ts';
import { enumFlag, onePositional, parseFlags, stringFlag, UsageError, type FlagSpec } from '../args.ts';
import { cliTokenizerGuard, loadModelArgLazy, terminalProgress } from '../load-model.ts';
import { BACKEND_NAMES } from '../../core/runtime/backends.ts';
import { promptIds, ROUTING_FLAGS, ROUTING_USAGE, routingOverrides, selectBackend } from './generate.ts';
import { runInDawnChildIfNeeded } from '../webgpu-node.ts';
import { readExpertLabels } from '../../core/merge/expert-labels.ts';

export const ROUTE_USAGE = `moe-studio route <model> (--prompt TEXT [--chat] [--system TEXT] | --ids 1,2,3) [options]
  shows, for every prompt token and MoE layer, the experts chosen and their weights,
  then how often each expert was chosen per layer
  --backend NAME       wasm | cpu | webgpu (default wasm)
${ROUTING_USAGE}
  --tokenizer FILE     llama2.c only: tokenizer .bin
  --json               print {"experts": [donor per expert] | null, "tokens": [{"id", "piece", "layers": [...]}],
                       "usage": [[count per expert] per layer], "meanExpertsPerToken": [per layer]}
  Experts are named by their donors (source_model in the mergekit_moe_config.yml beside a merged model).`;

const FLAGS: FlagSpec = {
  prompt: { type: 'string' },
  chat: { type: 'boolean' },
  system: { type: 'string' },
  ids: { type: 'string' },
  backend: { type: 'string' },
  ...ROUTING_FLAGS,
  tokenizer: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
};

/** How often each expert was chosen, per layer: usage[layer][expert]. */
export function expertUsage(tokens: LayerRouting[][], experts: number): number[][] {
  const layers = tokens[0]?.length ?? 0;
  const usage = Array.from({ length: layers }, () => new Array<number>(experts).fill(0));
  for (const token of tokens)
    token.forEach((layer, l) => {
      for (const e of layer.expertIds) usage[l]![e]! += 1;
    });
  return usage;
}

/** Experts per token, averaged over the tokens, per layer (varies under --experts-top-p). */
export function meanExpertsPerToken(tokens: LayerRouting[][]): number[] {
  const layers = tokens[0]?.length ?? 0;
  return Array.from(
    { length: layers },
    (_, l) => tokens.reduce((sum, token) => sum + token[l]!.expertIds.length, 0) / tokens.length,
  );
}

/**
 * Short names for the table: the donor's last path part ("zoo/math" → "math") when those are
 * unique, else the whole path; "0", "1", … when the model carries no names.
 */
export function shortExpertNames(labels: string[] | undefined, experts: number): string[] {
  if (!labels) return Array.from({ length: experts }, (_, e) => String(e));
  const short = labels.map((l) => l.split('/').filter(Boolean).pop() ?? l);
  return new Set(short).size === short.length ? short : labels;
}

function formatTable(pieces: string[], tokens: LayerRouting[][], usage: number[][], names: string[]): string {
  const lines: string[] = [];
  const width = Math.min(16, Math.max(5, ...pieces.map((p) => p.length)));
  const cellWidth = Math.max(14, ...tokens.flatMap((layers) => layers.map((r) => cellText(r, names).length)));
  lines.push(`${'token'.padEnd(width)}  ${usage.map((_, l) => `layer ${l}`.padEnd(cellWidth)).join(' ')}`);
  tokens.forEach((layers, t) => {
    const cells = layers.map((r) => cellText(r, names).padEnd(cellWidth));
    lines.push(`${pieces[t]!.slice(0, width).padEnd(width)}  ${cells.join(' ')}`);
  });
  lines.push('', 'expert usage per layer (tokens routed to each expert):');
  usage.forEach((counts, l) => lines.push(`  layer ${l}: ${counts.map((c, e) => `${names[e]}=${c}`).join('  ')}`));
  const mean = meanExpertsPerToken(tokens);
  lines.push(`mean experts per token: ${mean.map((m, l) => `layer ${l} ${m.toFixed(2)}`).join(', ')}`);
  return lines.join('\n');
}

function cellText(r: LayerRouting, names: string[]): string {
  return r.expertIds.map((e, i) => `${names[e]}:${r.expertWeights[i]!.toFixed(2)}`).join(' ');
}

export async function runRouteCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('route', argv, FLAGS);
  const modelArg = onePositional('route', positionals, 'model');
  const backendName = enumFlag('backend', values.backend, BACKEND_NAMES) ?? 'wasm';
  const routing = routingOverrides(values);
  if (backendName === 'webgpu') {
    const childExitCode = await runInDawnChildIfNeeded(['route', ...argv]);
    if (childExitCode !== undefined) return childExitCode;
  }
  const model = await loadModelArgLazy(modelArg, {
    guardTokenizer: cliTokenizerGuard(), // these commands encode: the tokenizer runs under the deadline
    tokenizer: stringFlag(values.tokenizer),
    onProgress: terminalProgress(),
  });
  if (!model.spec.moe)
    throw new ConfigError(`route: ${modelArg} is a dense ${model.spec.arch} model (no experts to route to)`);
  const ids = promptIds(model, values);
  if (ids.length === 0) throw new UsageError('route: the prompt encodes to no tokens');
  if (ids.length > model.spec.contextLength)
    throw new ConfigError(
      `route: the prompt has ${ids.length} tokens, the model's context is ${model.spec.contextLength}`,
    );
  const session = await (await selectBackend(backendName)).createSession(model.weights, { maxContext: ids.length });
  let tokens: LayerRouting[][];
  try {
    const result = await session.forward(ids, { trace: true, ...(routing ? { routing } : {}) });
    tokens = (result.routing ?? []).map((r) => r.layers);
  } finally {
    session.dispose();
  }
  const pieces = ids.map((id) => JSON.stringify(model.tokenizer?.decode([id]) ?? String(id)).slice(1, -1));
  const usage = expertUsage(tokens, model.spec.moe.experts);
  const labels = await readExpertLabels(model.files, model.spec.moe.experts);
  if (values.json) {
    const json = {
      experts: labels ?? null,
      tokens: ids.map((id, t) => ({ id, piece: pieces[t], layers: tokens[t] })),
      usage,
      meanExpertsPerToken: meanExpertsPerToken(tokens),
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
  } else {
    if (labels) process.stdout.write(`experts: ${labels.map((l, e) => `${e} ${l}`).join(', ')}\n\n`);
    process.stdout.write(`${formatTable(pieces, tokens, usage, shortExpertNames(labels, model.spec.moe.experts))}\n`);
  }
  return 0;
}
