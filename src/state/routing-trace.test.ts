import { describe, expect, it } from 'vitest';
import type { AnalyzedText } from '../core/runtime/types.ts';
import { parseRoutingTraceJson, routingTraceJson, ROUTING_TRACE_MAX_TOKENS } from './routing-trace.ts';

const trace: AnalyzedText = {
  pieces: ['Once', ' upon', '\n'],
  routing: [0, 1, 2].map((t) => ({
    layers: [0, 1].map((l) => ({
      expertIds: [(t + l) % 4, (t + l + 1) % 4],
      expertWeights: [0.7, 0.3],
      moeProbs: [0.4, 0.3, 0.2, 0.1],
    })),
  })),
};

/** The written trace with one field replaced (path of keys/indices → value). */
function corrupt(path: (string | number)[], value: unknown): string {
  const raw = JSON.parse(routingTraceJson(trace));
  let at = raw;
  for (const k of path.slice(0, -1)) at = at[k];
  at[path.at(-1)!] = value;
  return JSON.stringify(raw);
}

describe('routing-trace JSON (writer + reader pair)', () => {
  it('reads back exactly what it wrote', () => {
    expect(parseRoutingTraceJson(routingTraceJson(trace))).toEqual(trace);
  });

  it('reads a dense trace (tokens without layers)', () => {
    const dense = { pieces: ['a', 'b'], routing: [{ layers: [] }, { layers: [] }] };
    expect(parseRoutingTraceJson(routingTraceJson(dense))).toEqual(dense);
  });

  it.each([
    ['not JSON', '{', /trace: file is not JSON/],
    ['a list at the top', '[]', /trace: file is a list, not an object/],
    ['another schema version', corrupt(['schemaVersion'], 2), /trace: schemaVersion is 2; this studio reads 1/],
    ['tokens not a list', corrupt(['tokens'], {}), /trace: tokens is an object, not a list/],
    ['a piece that is no string', corrupt(['tokens', 1, 'piece'], 7), /trace: tokens\[1\]\.piece is 7, not a string/],
    [
      'an expert id that is no whole number',
      corrupt(['tokens', 2, 'routing', 'layers', 1, 'expertIds', 0], 1.5),
      /trace: tokens\[2\]\.routing\.layers\[1\]\.expertIds\[0\] is 1\.5, not an expert id/,
    ],
    [
      'an expert id past moeProbs',
      corrupt(['tokens', 0, 'routing', 'layers', 0, 'expertIds', 1], 4),
      /tokens\[0\]\.routing\.layers\[0\]\.expertIds\[1\] is 4, not below the 4 experts of moeProbs/,
    ],
    [
      'weights that do not match the ids',
      corrupt(['tokens', 0, 'routing', 'layers', 0, 'expertWeights'], [1]),
      /tokens\[0\]\.routing\.layers\[0\]\.expertWeights has 1 entries for 2 expertIds/,
    ],
    [
      'a token with fewer layers than the ones before',
      corrupt(['tokens', 1, 'routing', 'layers'], [trace.routing[0]!.layers[0]]),
      /tokens\[1\]\.routing\.layers has 1 layers where the tokens before have 2/,
    ],
    [
      'more tokens than the cap',
      JSON.stringify({ schemaVersion: 1, tokens: { length: 0 } }).replace(
        '{"length":0}',
        `[${'0,'.repeat(ROUTING_TRACE_MAX_TOKENS)}0]`,
      ),
      /trace: tokens has 200001 entries, more than the limit 200000/,
    ],
  ])('refuses %s with a FormatError naming the field', (_, text, message) => {
    expect(() => parseRoutingTraceJson(text)).toThrow(message);
    try {
      parseRoutingTraceJson(text);
    } catch (e) {
      expect((e as Error).name).toBe('FormatError');
    }
  });
});
