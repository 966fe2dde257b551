/**
 * moeRequestOf (the Chat page's routing controls → the request's `moe`) is the inverse of the
 * request check: every override survives the round trip through toGenerateRequest.
 */
import { describe, expect, it } from 'vitest';
import type { RoutingOverrides } from '../core/runtime/types.ts';
import type { ModelSummary } from '../../workers/engine/api.ts';
import { moeRequestOf, toGenerateRequest } from './request.ts';

const model = { id: 'm', layers: 4, experts: 4, expertsPerToken: 2, contextLength: 64 } as ModelSummary;
const messages = [{ role: 'user' as const, content: 'x' }];

describe('moeRequestOf', () => {
  it.each<RoutingOverrides>([
    { expertsPerToken: 1 },
    { expertsPerTokenByLayer: [1, 2, 3, 4] },
    { expertsTopP: { p: 0.8 } },
    { expertsTopP: { p: 0.5, minExperts: 2, maxExperts: 3, layers: [1, 2] }, expertsPerToken: 1 },
    { ban: { experts: [1] }, force: { experts: [0], layers: [2, 3] } },
  ])('round-trips %j through the request check', (overrides) => {
    const request = toGenerateRequest({ messages, moe: moeRequestOf(overrides) }, model);
    expect(request.routing).toEqual(overrides);
  });

  it('empty ban/force lists and no overrides become no routing; router_probs alone is allowed on a dense model', () => {
    expect(toGenerateRequest({ messages, moe: moeRequestOf({ ban: { experts: [] } }) }, model).routing).toBeUndefined();
    expect(toGenerateRequest({ messages, moe: moeRequestOf(undefined) }, model).routing).toBeUndefined();
    const dense = { ...model, experts: 0, expertsPerToken: 0 };
    expect(toGenerateRequest({ messages, moe: { router_probs: true } }, dense).routing).toBeUndefined();
    expect(() => toGenerateRequest({ messages, moe: { experts_per_token: 1 } }, dense)).toThrow(/dense model/);
    expect(() => toGenerateRequest({ messages, moe: { router_probs: 1 as unknown as boolean } }, model)).toThrow(
      'moe.router_probs 1 must be true or false',
    );
  });

  it("context_overflow maps to the engine's overflow (default: refuse)", () => {
    expect(toGenerateRequest({ messages }, model).overflow).toBe('refuse');
    expect(toGenerateRequest({ messages, context_overflow: 'drop_oldest_turns' }, model).overflow).toBe(
      'drop-oldest-turns',
    );
  });
});
