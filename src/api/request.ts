/**
 * An OpenAI-shaped chat request → the engine's GenerateRequest, checked before anything runs:
 * every bad field is a ConfigError that names it, its value and the limit
 * (`chat.completions.create: temperature -1 must be ≥ 0`).
 */
import { ConfigError } from '../core/errors.ts';
import { MAX_STOP_STRINGS, MAX_STOP_STRING_CHARS } from '../core/runtime/generate.ts';
import { validateRoutingOverrides } from '../core/runtime/routing.ts';
import type { RoutingOverrides } from '../core/runtime/types.ts';
import type { GenerateRequest, ModelSummary } from '../../workers/engine/api.ts';
import type { ChatCompletionCreateParams, ContextOverflow, ExpertSelection, MoeRequest } from './types.ts';

const WHERE = 'chat.completions.create';
const ROLES = ['system', 'user', 'assistant'] as const;
/**
 * The request fields this engine honours. Any other (n, logprobs, tools, frequency_penalty…) is
 * refused by name rather than ignored: an answer made without it would look as if it applied.
 * stream_options and user are accepted and have no effect (usage is always in the last chunk).
 */
const FIELDS = new Set([
  'model',
  'messages',
  'stream',
  'stream_options',
  'user',
  'max_tokens',
  'temperature',
  'top_p',
  'top_k',
  'stop',
  'seed',
  'repetition_penalty',
  'context_overflow',
  'continue_final_message',
  'moe',
]);
const OVERFLOWS = { error: 'refuse', drop_oldest_turns: 'drop-oldest-turns' } as const satisfies Record<
  ContextOverflow,
  GenerateRequest['overflow']
>;

function fail(message: string): never {
  throw new ConfigError(`${WHERE}: ${message}`);
}

function numberField(
  name: string,
  value: unknown,
  limits: { min: number; max?: number; integer?: boolean; minExclusive?: boolean },
): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${name} ${String(value)} is not a number`);
  if (limits.integer && !Number.isInteger(value)) fail(`${name} ${value} must be an integer`);
  if (limits.minExclusive ? value <= limits.min : value < limits.min)
    fail(`${name} ${value} must be ${limits.minExclusive ? '>' : '≥'} ${limits.min}`);
  if (limits.max !== undefined && value > limits.max) fail(`${name} ${value} must be ≤ ${limits.max}`);
  return value;
}

function messagesField(messages: unknown): GenerateRequest['messages'] {
  if (!Array.isArray(messages) || messages.length === 0) fail('messages must be a non-empty array');
  return messages.map((m, i) => {
    const role = (m as { role?: unknown })?.role;
    const content = (m as { content?: unknown })?.content;
    if (!ROLES.includes(role as (typeof ROLES)[number]))
      fail(`messages[${i}].role '${String(role)}' must be one of ${ROLES.join(', ')}`);
    if (typeof content !== 'string') fail(`messages[${i}].content must be a string`);
    return { role: role as (typeof ROLES)[number], content };
  });
}

function stopField(stop: unknown): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string'))
    fail('stop must be a string or an array of strings');
  if (list.length > MAX_STOP_STRINGS) fail(`stop has ${list.length} strings, at most ${MAX_STOP_STRINGS}`);
  for (const s of list as string[])
    if (s.length === 0 || s.length > MAX_STOP_STRING_CHARS)
      fail(`stop '${s.slice(0, 40)}' must have 1 to ${MAX_STOP_STRING_CHARS} characters`);
  return list.length ? (list as string[]) : undefined;
}

function selectionField(name: string, value: ExpertSelection | undefined): RoutingOverrides['ban'] {
  if (value === undefined) return undefined;
  const selection = Array.isArray(value) ? { experts: value } : value;
  const ids = (list: unknown, field: string) => {
    if (!Array.isArray(list) || list.some((v) => !Number.isInteger(v)))
      fail(`${field} must be an array of integer ids`);
  };
  ids(selection?.experts, `${name}${Array.isArray(value) ? '' : '.experts'}`);
  if (selection.layers !== undefined) ids(selection.layers, `${name}.layers`);
  return selection.layers === undefined
    ? { experts: selection.experts }
    : { experts: selection.experts, layers: selection.layers };
}

/** The request's `moe` as routing overrides, checked against the model (the core's rule, run before the request starts). */
function moeField(moe: ChatCompletionCreateParams['moe'], model: ModelSummary): RoutingOverrides | undefined {
  if (moe === undefined || moe === null) return undefined;
  if (typeof moe !== 'object') fail('moe must be an object');
  if (moe.router_probs !== undefined && typeof moe.router_probs !== 'boolean')
    fail(`moe.router_probs ${String(moe.router_probs)} must be true or false`);
  const controls = Object.keys(moe).filter(
    (key) => key !== 'router_probs' && moe[key as keyof MoeRequest] !== undefined,
  );
  if (controls.length === 0) return undefined;
  if (model.experts === 0) fail(`moe: '${model.id}' is a dense model (no experts to route to)`);
  const overrides: RoutingOverrides = {};
  const k = moe.experts_per_token;
  if (Array.isArray(k)) {
    k.forEach((v, layer) =>
      numberField(`moe.experts_per_token[${layer}]`, v, { min: 1, max: model.experts, integer: true }),
    );
    overrides.expertsPerTokenByLayer = k;
  } else if (k !== undefined) {
    overrides.expertsPerToken = numberField('moe.experts_per_token', k, { min: 1, max: model.experts, integer: true });
  }
  const topP = moe.experts_top_p;
  if (topP !== undefined && topP !== null) {
    const spec = typeof topP === 'number' ? { p: topP } : topP;
    if (typeof spec !== 'object') fail('moe.experts_top_p must be a number or an object');
    const count = (field: 'min_experts' | 'max_experts') =>
      numberField(`moe.experts_top_p.${field}`, spec[field], { min: 1, max: model.experts, integer: true });
    const p = numberField('moe.experts_top_p.p', spec.p, { min: 0, max: 1, minExclusive: true });
    if (p === undefined) fail('moe.experts_top_p.p is required');
    overrides.expertsTopP = { p };
    const minExperts = count('min_experts');
    const maxExperts = count('max_experts');
    if (minExperts !== undefined) overrides.expertsTopP.minExperts = minExperts;
    if (maxExperts !== undefined) overrides.expertsTopP.maxExperts = maxExperts;
    if (spec.layers !== undefined) {
      if (!Array.isArray(spec.layers) || spec.layers.some((l) => !Number.isInteger(l) || l < 0 || l >= model.layers))
        fail(`moe.experts_top_p.layers must be layer indices in [0, ${model.layers})`);
      overrides.expertsTopP.layers = spec.layers;
    }
  }
  const ban = selectionField('moe.ban', moe.ban);
  const force = selectionField('moe.force', moe.force);
  if (ban) overrides.ban = ban;
  if (force) overrides.force = force;
  for (const [name, selection] of [
    ['moe.ban', ban],
    ['moe.force', force],
  ] as const)
    for (const layer of selection?.layers ?? [])
      if (layer < 0 || layer >= model.layers) fail(`${name}.layers: layer ${layer} is outside [0, ${model.layers})`);
  try {
    validateRoutingOverrides(overrides, model, model.layers);
  } catch (e) {
    fail(`moe: ${(e as Error).message.replace(/^routing: /, '')}`);
  }
  return Object.keys(overrides).length ? overrides : undefined;
}

/** The request as the engine runs it; `seed` defaults to a fresh random one (as OpenAI's unseeded sampling). */
export function toGenerateRequest(params: ChatCompletionCreateParams, model: ModelSummary): GenerateRequest {
  if (typeof params !== 'object' || params === null) fail('the request must be an object');
  for (const key of Object.keys(params))
    if (!FIELDS.has(key) && (params as unknown as Record<string, unknown>)[key] !== undefined)
      fail(`'${key}' is not supported (supported: ${[...FIELDS].join(', ')})`);
  if (params.model !== undefined && params.model !== model.id)
    fail(`model '${params.model}' is not loaded (this engine holds '${model.id}')`);
  const messages = messagesField(params.messages);
  // Unset max_tokens: the answer may run until the context is full (finish_reason 'length').
  const maxTokens = numberField('max_tokens', params.max_tokens, { min: 1, integer: true }) ?? model.contextLength;
  const sampling: GenerateRequest['sampling'] = {
    maxTokens,
    temperature: numberField('temperature', params.temperature, { min: 0 }) ?? 1,
    topP: numberField('top_p', params.top_p, { min: 0, max: 1, minExclusive: true }) ?? 1,
    seed: numberField('seed', params.seed, { min: 0, max: 2 ** 32 - 1, integer: true }) ?? randomSeed(),
  };
  const topK = numberField('top_k', params.top_k, { min: 1, integer: true });
  if (topK !== undefined) sampling.topK = topK;
  const penalty = numberField('repetition_penalty', params.repetition_penalty, { min: 1 });
  if (penalty !== undefined) sampling.repetitionPenalty = penalty;
  const stop = stopField(params.stop);
  if (stop) sampling.stop = stop;
  const overflow = params.context_overflow ?? 'error';
  if (!Object.hasOwn(OVERFLOWS, overflow))
    fail(`context_overflow '${String(overflow)}' must be one of ${Object.keys(OVERFLOWS).join(', ')}`);
  const request: GenerateRequest = { messages, sampling, overflow: OVERFLOWS[overflow] };
  const continueFinal = params.continue_final_message;
  if (continueFinal !== undefined && typeof continueFinal !== 'boolean')
    fail(`continue_final_message ${String(continueFinal)} must be true or false`);
  if (continueFinal) {
    if (messages.at(-1)!.role !== 'assistant')
      fail(
        `continue_final_message: the last message is '${messages.at(-1)!.role}', it must be the assistant's answer to continue`,
      );
    request.continueFinal = true;
  }
  const routing = moeField(params.moe, model);
  if (routing) request.routing = routing;
  return request;
}

/**
 * Routing overrides as the request's `moe` field: the inverse of the check above, for a caller
 * that holds RoutingOverrides (the Chat page's routing controls).
 */
export function moeRequestOf(overrides: RoutingOverrides | undefined): MoeRequest {
  const moe: MoeRequest = {};
  if (!overrides) return moe;
  if (overrides.expertsPerTokenByLayer) moe.experts_per_token = overrides.expertsPerTokenByLayer;
  else if (overrides.expertsPerToken !== undefined) moe.experts_per_token = overrides.expertsPerToken;
  const topP = overrides.expertsTopP;
  if (topP)
    moe.experts_top_p = {
      p: topP.p,
      ...(topP.minExperts !== undefined && { min_experts: topP.minExperts }),
      ...(topP.maxExperts !== undefined && { max_experts: topP.maxExperts }),
      ...(topP.layers !== undefined && { layers: topP.layers }),
    };
  if (overrides.ban?.experts.length) moe.ban = overrides.ban;
  if (overrides.force?.experts.length) moe.force = overrides.force;
  return moe;
}

function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}
