/**
 * `moe-studio generate <model> (--prompt TEXT [--chat] | --ids 1,2,3) [flags]`
 *
 * Streams text to stdout (stats to stderr), or with --json prints exactly one JSON object
 * { "ids": [...generated ids...], "text": "..." }. --trace FILE writes every token's routing,
 * layer by layer (expertIds, expertWeights, moeProbs, sharedGate), as JSON.
 */
import { writeFile } from 'node:fs/promises';
import { BackendError, ConfigError } from '../../core/errors.ts';
import type { ExportableModel } from '../../core/model/load.ts';
import { BACKEND_NAMES, openBackend } from '../../core/runtime/backends.ts';
import { nodePlatform } from '../node-platform.ts';
import { generate } from '../../core/runtime/generate.ts';
import type { ChatMessage } from '../../core/tokenizer/types.ts';
import type {
  Backend,
  BackendName,
  ExpertsTopP,
  GenerateOptions,
  RoutingOverrides,
  TokenRouting,
} from '../../core/runtime/types.ts';
import {
  enumFlag,
  idListFlag,
  numberFlag,
  onePositional,
  parseFlags,
  stringFlag,
  UsageError,
  type FlagSpec,
} from '../args.ts';
import { cliTokenizerGuard, loadModelArgLazy, terminalProgress } from '../load-model.ts';
import { noAdapterHint, runInDawnChildIfNeeded } from '../webgpu-node.ts';

/** The routing flags `generate` and `route` share (MoE models). */
export const ROUTING_USAGE = `  --experts-per-token N  experts per token override (MoE; --route-top-k is its old name)
  --experts-top-p P    dynamic routing: per token, the fewest experts whose router probability
                       reaches P (0 < P ≤ 1), between --min-experts N (default 1) and
                       --max-experts N (default: every expert)
  --experts-top-p-layers 0,3  ... top-p only at these layers (the others keep --experts-per-token)
  --ban-experts 1,2    never route to these experts (MoE)
  --ban-layers 0,3     ... only at these layers (default: every layer)
  --force-experts 0    always route to these experts (MoE)
  --force-layers 1     ... only at these layers (default: every layer)`;

export const ROUTING_FLAGS: FlagSpec = {
  'route-top-k': { type: 'string' },
  'experts-per-token': { type: 'string' },
  'experts-top-p': { type: 'string' },
  'min-experts': { type: 'string' },
  'max-experts': { type: 'string' },
  'experts-top-p-layers': { type: 'string' },
  'ban-experts': { type: 'string' },
  'force-experts': { type: 'string' },
  'ban-layers': { type: 'string' },
  'force-layers': { type: 'string' },
};

export const GENERATE_USAGE = `moe-studio generate <model> (--prompt TEXT [--chat] | --ids 1,2,3) [options]
  <model>              HF folder, .gguf file, or llama2.c .bin checkpoint
  --prompt TEXT        text prompt (BOS added as the tokenizer does)
  --chat               wrap the prompt in the model's chat template (as a user turn)
  --system TEXT        with --chat: a system message before the user turn
  --ids 1,2,3          prompt as token ids
  --max-tokens N       tokens to generate (default 128)
  --temperature T      0 = greedy (default 1.0, as llama2.c's run.c)
  --top-k K            sample from the K most likely tokens
  --top-p P            nucleus sampling (default 0.9)
  --stop TEXT          end the answer before TEXT (repeatable; TEXT is not printed)
  --seed S             sampler seed (default: time)
  --backend NAME       wasm | cpu | webgpu (default wasm: WASM SIMD; cpu: the TS reference;
                       webgpu: Dawn, from the optional npm package 'webgpu')
${ROUTING_USAGE}
  --tokenizer FILE     llama2.c only: tokenizer .bin
  --json               print one JSON object {"ids": [...], "text": "..."}
  --trace FILE         write per-token, per-layer routing JSON to FILE`;

const FLAGS: FlagSpec = {
  prompt: { type: 'string' },
  chat: { type: 'boolean' },
  system: { type: 'string' },
  ids: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  stop: { type: 'string', multiple: true },
  seed: { type: 'string' },
  backend: { type: 'string' },
  ...ROUTING_FLAGS,
  tokenizer: { type: 'string' },
  json: { type: 'boolean' },
  trace: { type: 'string' },
  verbose: { type: 'boolean' },
};

export async function selectBackend(name: BackendName): Promise<Backend> {
  try {
    return await openBackend(name, await nodePlatform(name));
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]!;
    const hint =
      name === 'webgpu' && reason.startsWith('webgpu: requestAdapter() returned null') ? `; ${noAdapterHint()}` : '';
    throw new BackendError(`backend '${name}' is not available here: ${reason}${hint}`);
  }
}

/** The prompt of --prompt [--chat [--system]] or --ids as token ids (shared with `route`). */
export function promptIds(model: ExportableModel, values: Record<string, string | boolean | undefined>): number[] {
  const ids = idListFlag('ids', values.ids);
  const prompt = stringFlag(values.prompt);
  if ((ids === undefined) === (prompt === undefined))
    throw new UsageError('generate: give exactly one of --prompt TEXT or --ids 1,2,3');
  if (ids) {
    if (values.chat) throw new UsageError('generate: --chat needs --prompt');
    return ids;
  }
  const tokenizer = model.tokenizer;
  if (!tokenizer) throw new ConfigError('generate: the model has no tokenizer; pass --ids instead of --prompt');
  const system = stringFlag(values.system);
  if (system !== undefined && !values.chat) throw new UsageError('generate: --system needs --chat');
  if (!values.chat) return tokenizer.encode(prompt!);
  const messages: ChatMessage[] = system === undefined ? [] : [{ role: 'system', content: system }];
  messages.push({ role: 'user', content: prompt! });
  const text = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  return tokenizer.encode(text, { addSpecialTokens: false });
}

/**
 * --experts-per-token (or its old name --route-top-k) / --experts-top-p [--min-experts] [--max-experts]
 * [--experts-top-p-layers] / --ban-experts [--ban-layers] / --force-experts [--force-layers] (shared with
 * `route`). Checks what flags alone can tell; the model's limits are planRouting's.
 */
export function routingOverrides(values: Record<string, string | boolean | undefined>): RoutingOverrides | undefined {
  const overrides: RoutingOverrides = {};
  if (values['experts-per-token'] !== undefined && values['route-top-k'] !== undefined)
    throw new UsageError('--route-top-k is the old name of --experts-per-token: give one');
  const expertsPerToken =
    numberFlag('experts-per-token', values['experts-per-token'], { integer: true, min: 1 }) ??
    numberFlag('route-top-k', values['route-top-k'], { integer: true, min: 1 });
  const ban = idListFlag('ban-experts', values['ban-experts']);
  const force = idListFlag('force-experts', values['force-experts']);
  if (expertsPerToken !== undefined) overrides.expertsPerToken = expertsPerToken;
  const banLayers = idListFlag('ban-layers', values['ban-layers']);
  const forceLayers = idListFlag('force-layers', values['force-layers']);
  if (banLayers && !ban) throw new UsageError('--ban-layers needs --ban-experts');
  if (forceLayers && !force) throw new UsageError('--force-layers needs --force-experts');
  if (ban) overrides.ban = banLayers ? { experts: ban, layers: banLayers } : { experts: ban };
  if (force) overrides.force = forceLayers ? { experts: force, layers: forceLayers } : { experts: force };
  const expertsTopP = expertsTopPFlags(values);
  if (expertsTopP) overrides.expertsTopP = expertsTopP;
  return Object.keys(overrides).length ? overrides : undefined;
}

function expertsTopPFlags(values: Record<string, string | boolean | undefined>): ExpertsTopP | undefined {
  const p = numberFlag('experts-top-p', values['experts-top-p'], { min: 0, max: 1 });
  const minExperts = numberFlag('min-experts', values['min-experts'], { integer: true, min: 1 });
  const maxExperts = numberFlag('max-experts', values['max-experts'], { integer: true, min: 1 });
  const layers = idListFlag('experts-top-p-layers', values['experts-top-p-layers']);
  if (p === undefined) {
    for (const flag of ['min-experts', 'max-experts', 'experts-top-p-layers'])
      if (values[flag] !== undefined) throw new UsageError(`--${flag} needs --experts-top-p`);
    return undefined;
  }
  if (p === 0) throw new UsageError('--experts-top-p must be a number > 0 and ≤ 1, got "0"');
  if (minExperts !== undefined && maxExperts !== undefined && minExperts > maxExperts)
    throw new UsageError(`--min-experts ${minExperts} exceeds --max-experts ${maxExperts}`);
  if (values['experts-per-token'] !== undefined && !layers)
    throw new UsageError(
      '--experts-per-token and --experts-top-p both apply to every layer: cap top-p with --max-experts, or give --experts-top-p-layers',
    );
  return {
    p,
    ...(minExperts !== undefined ? { minExperts } : {}),
    ...(maxExperts !== undefined ? { maxExperts } : {}),
    ...(layers ? { layers } : {}),
  };
}

function generateOptions(values: Record<string, string | boolean | undefined>): GenerateOptions {
  const options: GenerateOptions = {
    maxTokens: numberFlag('max-tokens', values['max-tokens'], { integer: true, min: 0 }) ?? 128,
    temperature: numberFlag('temperature', values.temperature, { min: 0 }) ?? 1.0,
    topP: numberFlag('top-p', values['top-p'], { min: 0, max: 1 }) ?? 0.9,
    seed: numberFlag('seed', values.seed, { integer: true, min: 0 }) ?? Date.now() % 2 ** 31,
    trace: values.trace !== undefined,
  };
  const topK = numberFlag('top-k', values['top-k'], { integer: true, min: 1 });
  if (topK !== undefined) options.topK = topK;
  const routing = routingOverrides(values);
  if (routing) options.routing = routing;
  const stop = (values as Record<string, unknown>).stop as string[] | undefined;
  if (stop?.length) options.stop = stop;
  return options;
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(0);

export async function runGenerateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('generate', argv, FLAGS);
  const modelArg = onePositional('generate', positionals, 'model');
  const backendName = enumFlag('backend', values.backend, BACKEND_NAMES) ?? 'wasm';
  const options = generateOptions(values);
  if (backendName === 'webgpu') {
    const childExitCode = await runInDawnChildIfNeeded(['generate', ...argv]);
    if (childExitCode !== undefined) return childExitCode;
  }
  const model = await loadModelArgLazy(modelArg, {
    guardTokenizer: cliTokenizerGuard(), // these commands encode: the tokenizer runs under the deadline
    tokenizer: stringFlag(values.tokenizer),
    onProgress: terminalProgress(),
  });
  const prompt = promptIds(model, values);
  if (prompt.length === 0) throw new ConfigError('generate: the prompt encodes to no tokens');
  const maxContext = Math.min(model.spec.contextLength, prompt.length + options.maxTokens!);
  if (prompt.length > maxContext)
    throw new ConfigError(
      `generate: the prompt has ${prompt.length} tokens, the model's context is ${model.spec.contextLength}`,
    );

  // Stop at the tokenizer's EOS and the model's (config/generation_config) EOS ids.
  const stopIds = [...new Set([...(model.tokenizer?.eosTokenIds ?? []), ...(model.spec.eosTokenIds ?? [])])];
  if (stopIds.length > 0) options.stopIds = stopIds;
  const backend = await selectBackend(backendName);
  const session = await backend.createSession(model.weights, { maxContext });
  if (session.memory)
    process.stderr.write(
      `backend ${backendName}: weights ${mb(session.memory.weightBytes)} MB, session memory ${mb(session.memory.totalBytes)} MB\n`,
    );
  const started = performance.now();
  const ids: number[] = [];
  let text = '';
  const trace: { id: number; text: string; layers: TokenRouting['layers'] }[] = [];
  let promptRouting: TokenRouting[] = [];
  try {
    const stream = generate(session, model.tokenizer, prompt, {
      ...options,
      onPromptRouting: (r: TokenRouting[]) => {
        promptRouting = r;
      },
    });
    for await (const token of stream) {
      ids.push(token.id);
      text += token.text;
      if (!values.json) process.stdout.write(token.text);
      if (options.trace) trace.push({ id: token.id, text: token.text, layers: token.routing?.layers ?? [] });
    }
  } finally {
    session.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  if (values.json) process.stdout.write(`${JSON.stringify({ ids, text })}\n`);
  else process.stdout.write('\n');
  process.stderr.write(
    `${ids.length} tokens in ${seconds.toFixed(2)} s (${(ids.length / Math.max(seconds, 1e-9)).toFixed(1)} tok/s, backend ${backendName})\n`,
  );
  if (typeof values.trace === 'string') {
    const record = {
      model: modelArg,
      backend: backendName,
      promptIds: prompt,
      prompt: promptRouting.map((r, i) => ({ id: prompt[i], layers: r.layers })),
      tokens: trace,
    };
    await writeFile(values.trace, `${JSON.stringify(record)}\n`);
  }
  return 0;
}
