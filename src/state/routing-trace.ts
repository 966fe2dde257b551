/**
 * The studio's routing-trace JSON, writer and reader as one pair: the Export page and the
 * heatmap write it, the Routing page opens it again. Layout (schemaVersion 1):
 *   { schemaVersion: 1, tokens: [{ piece: string, routing: { layers: [{ expertIds: number[],
 *     expertWeights: number[], moeProbs: number[], sharedGate?: number }] } }] }
 * The reader checks every field and names the first bad one (`trace: tokens[3].routing.layers[1].expertIds[0] …`).
 */
import { FormatError } from '../core/errors.ts';
import type { AnalyzedText, LayerRouting, TokenRouting } from '../core/runtime/types.ts';

export const ROUTING_TRACE_SCHEMA_VERSION = 1;

/** A cap on tokens per trace so a hostile file cannot make the page allocate without bound (a long chat is ~10⁴). */
export const ROUTING_TRACE_MAX_TOKENS = 200_000;
/** Caps per token: far above any MoE published (DeepSeek-V3: 61 layers, 256 experts). */
export const ROUTING_TRACE_MAX_LAYERS = 1024;
export const ROUTING_TRACE_MAX_EXPERTS = 4096;

export function routingTraceJson(trace: AnalyzedText): string {
  return JSON.stringify(
    {
      schemaVersion: ROUTING_TRACE_SCHEMA_VERSION,
      tokens: trace.pieces.map((piece, i) => ({ piece, routing: trace.routing[i] })),
    },
    null,
    1,
  );
}

function fail(field: string, problem: string): never {
  throw new FormatError(`trace: ${field} ${problem}`);
}

function numbers(value: unknown, field: string, max: number, integer: boolean): number[] {
  if (!Array.isArray(value)) fail(field, `is ${describeValue(value)}, not a list of numbers`);
  if (value.length > max) fail(field, `has ${value.length} entries, more than the limit ${max}`);
  value.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || (integer && (!Number.isInteger(x) || x < 0)))
      fail(
        `${field}[${i}]`,
        `is ${describeValue(x)}, not ${integer ? 'an expert id (a whole number ≥ 0)' : 'a number'}`,
      );
  });
  return value as number[];
}

function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a list';
  if (typeof x === 'string') return `"${x.length > 20 ? `${x.slice(0, 20)}…` : x}"`;
  return typeof x === 'object' ? 'an object' : String(x);
}

function layerRouting(raw: unknown, field: string): LayerRouting {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(field, `is ${describeValue(raw)}, not an object`);
  const r = raw as Record<string, unknown>;
  const expertIds = numbers(r.expertIds, `${field}.expertIds`, ROUTING_TRACE_MAX_EXPERTS, true);
  const expertWeights = numbers(r.expertWeights, `${field}.expertWeights`, ROUTING_TRACE_MAX_EXPERTS, false);
  if (expertWeights.length !== expertIds.length)
    fail(`${field}.expertWeights`, `has ${expertWeights.length} entries for ${expertIds.length} expertIds`);
  const moeProbs = numbers(r.moeProbs ?? [], `${field}.moeProbs`, ROUTING_TRACE_MAX_EXPERTS, false);
  const tooHigh = moeProbs.length ? expertIds.findIndex((e) => e >= moeProbs.length) : -1;
  if (tooHigh >= 0)
    fail(
      `${field}.expertIds[${tooHigh}]`,
      `is ${expertIds[tooHigh]}, not below the ${moeProbs.length} experts of moeProbs`,
    );
  const out: LayerRouting = { expertIds, expertWeights, moeProbs };
  if (r.sharedGate !== undefined) {
    if (typeof r.sharedGate !== 'number')
      fail(`${field}.sharedGate`, `is ${describeValue(r.sharedGate)}, not a number`);
    out.sharedGate = r.sharedGate;
  }
  return out;
}

/** A routing-trace JSON text (as routingTraceJson writes it) → the trace, or a FormatError naming the field. */
export function parseRoutingTraceJson(text: string): AnalyzedText {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    fail('file', `is not JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('file', `is ${describeValue(raw)}, not an object`);
  const r = raw as Record<string, unknown>;
  if (r.schemaVersion !== ROUTING_TRACE_SCHEMA_VERSION)
    fail('schemaVersion', `is ${describeValue(r.schemaVersion)}; this studio reads ${ROUTING_TRACE_SCHEMA_VERSION}`);
  if (!Array.isArray(r.tokens)) fail('tokens', `is ${describeValue(r.tokens)}, not a list`);
  if (r.tokens.length > ROUTING_TRACE_MAX_TOKENS)
    fail('tokens', `has ${r.tokens.length} entries, more than the limit ${ROUTING_TRACE_MAX_TOKENS}`);
  const pieces: string[] = [];
  const routing: TokenRouting[] = [];
  let layerCount: number | undefined;
  r.tokens.forEach((t: unknown, i) => {
    const field = `tokens[${i}]`;
    if (!t || typeof t !== 'object' || Array.isArray(t)) fail(field, `is ${describeValue(t)}, not an object`);
    const token = t as Record<string, unknown>;
    if (typeof token.piece !== 'string') fail(`${field}.piece`, `is ${describeValue(token.piece)}, not a string`);
    const layersRaw = (token.routing as { layers?: unknown } | undefined)?.layers ?? [];
    if (!Array.isArray(layersRaw)) fail(`${field}.routing.layers`, `is ${describeValue(layersRaw)}, not a list`);
    if (layersRaw.length > ROUTING_TRACE_MAX_LAYERS)
      fail(
        `${field}.routing.layers`,
        `has ${layersRaw.length} entries, more than the limit ${ROUTING_TRACE_MAX_LAYERS}`,
      );
    if (layersRaw.length) {
      layerCount ??= layersRaw.length;
      if (layersRaw.length !== layerCount)
        fail(`${field}.routing.layers`, `has ${layersRaw.length} layers where the tokens before have ${layerCount}`);
    }
    pieces.push(token.piece);
    routing.push({ layers: layersRaw.map((l, k) => layerRouting(l, `${field}.routing.layers[${k}]`)) });
  });
  return { pieces, routing };
}
