import { describe, expect, it } from 'vitest';
import {
  hasRoutingOverrides,
  planRouting,
  routeToken as routeByPlan,
  routingPlanner,
  sharedExpertGate,
} from './routing.ts';
import type { RoutingOverrides } from './types.ts';
import type { MoeSpec } from '../model/spec.ts';

const mixtral: MoeSpec = { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 8 };
const qwen: MoeSpec = { experts: 4, expertsPerToken: 2, normTopK: false, expertIntermediate: 8 };
const logits = [1, 2, 3, 0];
const Z = Math.exp(1) + Math.exp(2) + Math.exp(3) + 1;
const probs = [Math.exp(1) / Z, Math.exp(2) / Z, Math.exp(3) / Z, 1 / Z];

/** One token at `layer` through the whole rule: planRouting (validation included), then routeToken. */
function routeToken(routerLogits: number[], moe: MoeSpec, layer: number, overrides?: RoutingOverrides) {
  return routeByPlan(routerLogits, moe, planRouting(moe, Math.max(layer + 1, 2), overrides).layers[layer]!);
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i], 12));
}

describe('planRouting + routeToken: hand-built known answers, one per rule', () => {
  it('Mixtral: softmax over all experts → top-2 → renormalize', () => {
    const r = routeToken(logits, mixtral, 0);
    expect(r.expertIds).toEqual([2, 1]);
    expectClose(r.expertWeights, [
      Math.exp(3) / (Math.exp(3) + Math.exp(2)),
      Math.exp(2) / (Math.exp(3) + Math.exp(2)),
    ]);
    expectClose(r.moeProbs, probs);
    expect(r.sharedGate).toBeUndefined();
  });

  it('Qwen2-MoE (normTopK false): the weights are the raw probabilities', () => {
    const r = routeToken(logits, qwen, 0);
    expect(r.expertIds).toEqual([2, 1]);
    expectClose(r.expertWeights, [probs[2], probs[1]]);
  });

  it('ties go to the lower expert id', () => {
    const r = routeToken([0.5, 0.5, 0.5, 0.5], mixtral, 0);
    expect(r.expertIds).toEqual([0, 1]);
    expectClose(r.expertWeights, [0.5, 0.5]);
  });

  it('expertsPerToken override widens the choice', () => {
    const r = routeToken(logits, mixtral, 0, { expertsPerToken: 3 });
    expect(r.expertIds).toEqual([2, 1, 0]);
    const s = probs[2] + probs[1] + probs[0];
    expectClose(r.expertWeights, [probs[2] / s, probs[1] / s, probs[0] / s]);
  });

  it('expertsPerTokenByLayer sets k per layer; records hold the largest k', () => {
    const plan = planRouting(mixtral, 3, { expertsPerTokenByLayer: [1, 3, 2] });
    expect(plan.expertsPerToken).toBe(3);
    expect(plan.layers.map((l) => l.expertsPerToken)).toEqual([1, 3, 2]);
    expect(routeByPlan(logits, mixtral, plan.layers[0]!).expertIds).toEqual([2]);
    expect(routeByPlan(logits, mixtral, plan.layers[1]!).expertIds).toEqual([2, 1, 0]);
    expect(() => planRouting(mixtral, 3, { expertsPerTokenByLayer: [1, 2] })).toThrow(/has 2 values, the model has 3/);
    expect(() => planRouting(mixtral, 2, { expertsPerTokenByLayer: [1, 5] })).toThrow(
      /expertsPerTokenByLayer\[1\] 5 is outside \[1, 4\]/,
    );
    expect(() => planRouting(mixtral, 2, { expertsPerToken: 2, expertsPerTokenByLayer: [1, 1] })).toThrow(/not both/);
  });

  it('ban: the expert gets logit −∞ (probability 0, left out of the softmax)', () => {
    const r = routeToken(logits, qwen, 0, { ban: { experts: [2] } });
    const z = Math.exp(1) + Math.exp(2) + 1;
    expectClose(r.moeProbs, [Math.exp(1) / z, Math.exp(2) / z, 0, 1 / z]);
    expect(r.expertIds).toEqual([1, 0]);
    expectClose(r.expertWeights, [Math.exp(2) / z, Math.exp(1) / z]);
  });

  it('ban applies only at the listed layers', () => {
    const overrides = { ban: { experts: [2], layers: [1] } };
    expect(routeToken(logits, mixtral, 0, overrides).expertIds).toEqual([2, 1]);
    expect(routeToken(logits, mixtral, 1, overrides).expertIds).toEqual([1, 0]);
  });

  it('banning all but one expert clamps k to what is left', () => {
    const r = routeToken(logits, mixtral, 0, { ban: { experts: [0, 1, 2] } });
    expect(r.expertIds).toEqual([3]);
    expectClose(r.expertWeights, [1]);
  });

  it('force: forced experts take slots first, the rest by probability, listed by weight', () => {
    const r = routeToken(logits, mixtral, 0, { force: { experts: [3] } });
    expect(r.expertIds).toEqual([2, 3]);
    const s = probs[2] + probs[3];
    expectClose(r.expertWeights, [probs[2] / s, probs[3] / s]);
    const both = routeToken(logits, qwen, 0, { force: { experts: [0, 3] } });
    expect(both.expertIds).toEqual([0, 3]);
    expectClose(both.expertWeights, [probs[0], probs[3]]);
  });

  it('rejects bad overrides with ConfigError naming the field', () => {
    expect(() => routeToken(logits, mixtral, 0, { expertsPerToken: 5 })).toThrow(/routing: expertsPerToken 5/);
    expect(() => routeToken(logits, mixtral, 0, { ban: { experts: [4] } })).toThrow(/ban expert 4/);
    expect(() => routeToken(logits, mixtral, 0, { force: { experts: [0, 1, 2] } })).toThrow(/3 forced experts/);
    expect(() => routeToken(logits, mixtral, 0, { ban: { experts: [1] }, force: { experts: [1] } })).toThrow(
      /both banned and forced/,
    );
    expect(() => routeToken(logits, mixtral, 0, { ban: { experts: [0, 1, 2, 3] } })).toThrow(/every one/);
    expect(() => routeToken([1, 2], mixtral, 0)).toThrow(/2 router logits for 4 experts/);
    expect(() => routeToken(logits, mixtral, 0, { expertsPerToken: 0 })).toThrow(
      /routing: expertsPerToken 0 is outside \[1, 4\]/,
    );
    expect(() => routeToken(logits, mixtral, 0, { expertsPerToken: 0 })).toThrow(
      expect.objectContaining({ name: 'ConfigError' }),
    );
  });

  it('the same expert may be banned at one layer and forced at another', () => {
    const overrides = { ban: { experts: [2], layers: [0] }, force: { experts: [2], layers: [1] } };
    expect(routeToken(logits, mixtral, 0, overrides).expertIds).toEqual([1, 0]);
    expect(routeToken(logits, mixtral, 1, overrides).expertIds).toEqual([2, 1]);
    expect(() =>
      routeToken(logits, mixtral, 0, { ban: { experts: [2], layers: [0, 1] }, force: { experts: [2], layers: [1] } }),
    ).toThrow(/both banned and forced/);
  });

  it('a forced expert with a lower probability than the others is listed after them', () => {
    const r = routeToken([5, 4, 0, 3], mixtral, 0, { expertsPerToken: 3, force: { experts: [2] } });
    expect(r.expertIds).toEqual([0, 1, 2]);
  });

  it('a NaN router logit (a numerically broken model or kernel) throws BackendError naming expert and layer', () => {
    expect(() => routeToken([0, NaN, 1, 2], mixtral, 3)).toThrow(/expert 1 at layer 3 is NaN/);
  });

  it('sharedExpertGate is the sigmoid of the gate logit', () => {
    expect(sharedExpertGate(0)).toBe(0.5);
    expect(sharedExpertGate(2)).toBeCloseTo(1 / (1 + Math.exp(-2)), 14);
  });

  it("the plan holds each layer's experts per token, forced and banned experts, and routeToken follows it", () => {
    const moe: MoeSpec = { experts: 6, expertsPerToken: 2, normTopK: true, expertIntermediate: 8 };
    const six = [0.3, -1, 2, 0.5, 0.1, -0.2];
    for (const overrides of [
      undefined,
      { expertsPerToken: 4 },
      { ban: { experts: [0, 1, 2, 3, 4] } },
      { ban: { experts: [1], layers: [2] }, force: { experts: [5] } },
      { expertsPerToken: 3, force: { experts: [0, 4], layers: [0, 2] } },
    ] as (RoutingOverrides | undefined)[]) {
      const plan = planRouting(moe, 3, overrides);
      expect(plan.expertsPerToken).toBe(overrides?.expertsPerToken ?? 2);
      for (const layerPlan of plan.layers) {
        const route = routeByPlan(six, moe, layerPlan);
        expect(route.expertIds.length).toBe(layerPlan.expertsPerToken);
        for (const id of layerPlan.forced) expect(route.expertIds).toContain(id);
        for (const id of layerPlan.banned) expect(route.expertIds).not.toContain(id);
      }
    }
  });

  it('routingPlanner plans once per overrides object (one request) and again for a new one', () => {
    const planFor = routingPlanner(mixtral, 2);
    const overrides = { expertsPerToken: 3 };
    const first = planFor(overrides)!;
    expect(planFor(overrides)).toBe(first); // every decode step of the request reuses it
    expect(planFor({ expertsPerToken: 3 })).not.toBe(first);
    expect(planFor({ expertsPerToken: 1 })!.layers[1]!.expertsPerToken).toBe(1);
    expect(() => planFor({ expertsPerToken: 9 })).toThrow(/expertsPerToken 9/);
    expect(routingPlanner(undefined, 2)(overrides)).toBeUndefined();
  });
});

describe('dynamic routing (expertsTopP): hand-built known answers', () => {
  // router probabilities [0.6, 0.3, 0.1, 0]: logits are their logs (log 0 = −∞ gives probability 0)
  const known = [0.6, 0.3, 0.1, 0].map(Math.log);
  const route = (moe: MoeSpec, overrides: RoutingOverrides, layer = 0) => routeToken(known, moe, layer, overrides);

  it('routes to the fewest experts whose probabilities reach p', () => {
    expect(route(mixtral, { expertsTopP: { p: 0.5 } }).expertIds).toEqual([0]);
    expect(route(mixtral, { expertsTopP: { p: 0.6 } }).expertIds).toEqual([0]); // reaching p is enough
    expect(route(mixtral, { expertsTopP: { p: 0.85 } }).expertIds).toEqual([0, 1]);
    expect(route(mixtral, { expertsTopP: { p: 0.95 } }).expertIds).toEqual([0, 1, 2]);
  });

  it('weights are the chosen probabilities, renormalized only when the model renormalizes', () => {
    expectClose(route(mixtral, { expertsTopP: { p: 0.5 } }).expertWeights, [1]);
    expectClose(route(mixtral, { expertsTopP: { p: 0.85 } }).expertWeights, [0.6 / 0.9, 0.3 / 0.9]);
    expectClose(route(qwen, { expertsTopP: { p: 0.85 } }).expertWeights, [0.6, 0.3]);
    expectClose(route(qwen, { expertsTopP: { p: 0.85 } }).moeProbs, [0.6, 0.3, 0.1, 0]);
  });

  it('minExperts and maxExperts clamp the count', () => {
    expect(route(mixtral, { expertsTopP: { p: 0.5, minExperts: 2 } }).expertIds).toEqual([0, 1]);
    expect(route(mixtral, { expertsTopP: { p: 0.95, maxExperts: 2 } }).expertIds).toEqual([0, 1]);
    expect(route(mixtral, { expertsTopP: { p: 0.5, minExperts: 3, maxExperts: 3 } }).expertIds).toEqual([0, 1, 2]);
    // p = 1 is never reached before every candidate is taken (f64 sums fall just short): maxExperts
    expect(route(mixtral, { expertsTopP: { p: 1 } }).expertIds).toEqual([0, 1, 2, 3]);
    expect(route(mixtral, { expertsTopP: { p: 1, maxExperts: 3 } }).expertIds).toEqual([0, 1, 2]);
  });

  it('banned experts are out before the cut (the softmax renormalizes over the rest)', () => {
    // after banning expert 0 the probabilities are [0, 0.75, 0.25, 0]
    const r = route(qwen, { expertsTopP: { p: 0.5 }, ban: { experts: [0] } });
    expect(r.expertIds).toEqual([1]);
    expectClose(r.expertWeights, [0.75]);
    expect(route(qwen, { expertsTopP: { p: 0.8 }, ban: { experts: [0] } }).expertIds).toEqual([1, 2]);
    // bans clamp maxExperts (and minExperts) to the experts left
    expect(route(mixtral, { expertsTopP: { p: 1, minExperts: 4 }, ban: { experts: [0, 1, 3] } }).expertIds).toEqual([
      2,
    ]);
  });

  it('forced experts take slots first and their probability counts towards p', () => {
    // forcing the zero-probability expert 3 adds nothing to the mass: expert 0 is still needed
    expect(route(mixtral, { expertsTopP: { p: 0.5 }, force: { experts: [3] } }).expertIds).toEqual([0, 3]);
    // forcing expert 1 (0.3) already reaches p = 0.25: nothing else is taken
    expect(route(mixtral, { expertsTopP: { p: 0.25 }, force: { experts: [1] } }).expertIds).toEqual([1]);
    // with minExperts 2 the best other expert joins it
    expect(route(mixtral, { expertsTopP: { p: 0.25, minExperts: 2 }, force: { experts: [1] } }).expertIds).toEqual([
      0, 1,
    ]);
    // ban + force together: probabilities [0, 0.75, 0.25, 0], forced 2 (0.25) then 1 (0.75)
    const both = route(qwen, { expertsTopP: { p: 0.5 }, ban: { experts: [0] }, force: { experts: [2] } });
    expect(both.expertIds).toEqual([1, 2]);
    expectClose(both.expertWeights, [0.75, 0.25]);
    expect(() => route(mixtral, { expertsTopP: { p: 0.5, maxExperts: 1 }, force: { experts: [1, 2] } })).toThrow(
      /2 forced experts at layer 0 exceed expertsTopP.maxExperts 1/,
    );
  });

  it('per layer: top-p only at the listed layers, the fixed experts per token elsewhere', () => {
    const overrides: RoutingOverrides = { expertsPerToken: 3, expertsTopP: { p: 0.5, layers: [1] } };
    expect(route(mixtral, overrides, 0).expertIds).toEqual([0, 1, 2]);
    expect(route(mixtral, overrides, 1).expertIds).toEqual([0]);
    const plan = planRouting(mixtral, 2, overrides);
    expect(plan.layers[0]!.topP).toBeUndefined();
    expect(plan.layers[1]!.topP).toEqual({ p: 0.5, minExperts: 1 });
    expect(plan.expertsPerToken).toBe(4); // records hold maxExperts (default: every expert) slots
    expect(planRouting(mixtral, 2, { expertsTopP: { p: 0.9, maxExperts: 3 } }).expertsPerToken).toBe(3);
    expect(planRouting(mixtral, 2, { expertsTopP: { p: 0.9, maxExperts: 1, layers: [0] } }).expertsPerToken).toBe(2);
  });

  it('rejects bad top-p overrides with ConfigError naming the field', () => {
    const bad =
      (expertsTopP: RoutingOverrides['expertsTopP'], extra: RoutingOverrides = {}) =>
      () =>
        planRouting(mixtral, 2, { ...extra, expertsTopP });
    expect(bad({ p: 0 })).toThrow(/routing: expertsTopP.p 0 is outside \(0, 1\]/);
    expect(bad({ p: 1.5 })).toThrow(/expertsTopP.p 1.5/);
    expect(bad({ p: Number.NaN })).toThrow(/expertsTopP.p NaN/);
    expect(bad({ p: 0.5, minExperts: 0 })).toThrow(/expertsTopP.minExperts 0 is outside \[1, 4\]/);
    expect(bad({ p: 0.5, maxExperts: 5 })).toThrow(/expertsTopP.maxExperts 5 is outside \[1, 4\]/);
    expect(bad({ p: 0.5, minExperts: 3, maxExperts: 2 })).toThrow(/minExperts 3 exceeds maxExperts 2/);
    expect(bad({ p: 0.5, layers: [2] })).toThrow(/expertsTopP layer 2 is outside \[0, 2\)/);
    expect(bad({ p: 0.5 }, { expertsPerToken: 2 })).toThrow(/expertsPerToken and expertsTopP both apply/);
    expect(bad({ p: 0 })).toThrow(expect.objectContaining({ name: 'ConfigError' }));
  });
});

describe('hasRoutingOverrides', () => {
  it('counts expertsTopP as an intervention; empty ban/force lists are none', () => {
    expect(hasRoutingOverrides(undefined)).toBe(false);
    expect(hasRoutingOverrides({ ban: { experts: [] }, force: { experts: [] } })).toBe(false);
    expect(hasRoutingOverrides({ expertsTopP: { p: 0.9 } })).toBe(true);
    expect(hasRoutingOverrides({ expertsPerToken: 1 })).toBe(true);
    expect(hasRoutingOverrides({ force: { experts: [2] } })).toBe(true);
  });
});
