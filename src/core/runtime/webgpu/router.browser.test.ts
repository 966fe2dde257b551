/**
 * The fused router kernel and the expert-dispatch kernels against THE routing rule
 * (runtime/routing.ts routeToken) and the reference SwiGLU MLP, on fresh seeded random
 * inputs, plus one hand-built known answer per routing rule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allclose, type Tolerance } from '../cpu/allclose.testing.ts';
import { matmul, swiglu } from '../cpu/ops.ts';
import { planRouting, routeToken } from '../routing.ts';
import type { LayerRouting, RoutingOverrides } from '../types.ts';
import type { MoeSpec } from '../../model/spec.ts';
import { dequantize, quantize } from '../../quant/convert.ts';
import { createGpuContext, type GpuContext } from './gpu-context.ts';
import { KernelHarness, seededUniform, freshTestSeed } from './kernel-harness.testing.ts';
import { NO_EXPERT, routeRecordLayout, routeRecordWords, routerLaunch, routerSource } from './kernels/router.ts';
import { moeDownLaunch, moeDownSource, moeGateUpLaunch, moeGateUpSource } from './kernels/moe.ts';
import {
  moeCombineLaunch,
  moeCombineSource,
  moeDownGroupedLaunch,
  moeDownGroupedSource,
  moeGateUpGroupedLaunch,
  moeGateUpGroupedSource,
  moeGroupLaunch,
  moeGroupSource,
  moeGroupsWords,
} from './kernels/moe-grouped.ts';
import type { GpuWeightDType } from './kernels/weight-formats.ts';

const TOLERANCE = {
  routerProbs: { atol: 1e-6, rtol: 1e-5 }, // f32 softmax vs the reference's f64
  moe: { atol: 1e-4, rtol: 1e-4 },
} satisfies Record<string, Tolerance>;
/**
 * Top-p: the kernel sums the chosen probabilities in f32, routeToken in f64. Where the reference's
 * mass after some chosen expert lies this close to p, the two may stop one expert apart.
 */
const TOP_P_EDGE = 1e-5;

/**
 * Fresh random inputs each run: a base seed from the clock, offset per case. It is logged
 * and named in failure messages; replay a failing run with VITE_TEST_SEED=<seed>.
 */
const BASE_SEED = freshTestSeed('router.browser.test');

let context: GpuContext;
let harness: KernelHarness;
beforeAll(async () => {
  context = await createGpuContext({ onLog: (m) => console.log(m) });
  harness = new KernelHarness(context);
});
afterAll(() => context?.destroy());

/** Runs the router kernel for one layer over `logits` // [nTokens, E]; decodes the records. */
async function gpuRoute(
  logits: Float32Array,
  moe: MoeSpec,
  layer: number,
  overrides?: RoutingOverrides,
): Promise<LayerRouting[]> {
  const E = moe.experts;
  const nTokens = logits.length / E;
  const plan = planRouting(moe, layer + 1, overrides);
  const { expertsPerToken, banned, forced, topP } = plan.layers[layer]!;
  const R = routeRecordWords(plan.expertsPerToken, E);
  const launch = routerLaunch({
    nTokens,
    experts: E,
    k: expertsPerToken,
    recordK: plan.expertsPerToken,
    normTopK: moe.normTopK,
    routeBase: 0,
    routeStride: R,
    banned,
    forced,
    topP,
  });
  const words = new Uint32Array(
    await harness.run('router', routerSource, [logits, { zeros: nTokens * R * 4 }], launch, 2),
  );
  const floats = new Float32Array(words.buffer);
  const at = routeRecordLayout(plan.expertsPerToken, E);
  return Array.from({ length: nTokens }, (_, t) => {
    // a top-p token fills `chosen` slots; the rest must hold NO_EXPERT with weight 0
    const ids = Array.from(words.subarray(t * R + at.ids, t * R + at.ids + expertsPerToken));
    const chosen = ids.includes(NO_EXPERT) ? ids.indexOf(NO_EXPERT) : ids.length;
    const weights = Array.from(floats.subarray(t * R + at.weights, t * R + at.weights + expertsPerToken));
    expect(
      ids.slice(chosen).every((id) => id === NO_EXPERT),
      `token ${t} unused slots`,
    ).toBe(true);
    expect(
      weights.slice(chosen).every((w) => w === 0),
      `token ${t} unused weights`,
    ).toBe(true);
    return {
      expertIds: ids.slice(0, chosen),
      expertWeights: weights.slice(0, chosen),
      moeProbs: Array.from(floats.subarray(t * R + at.probs, t * R + at.probs + E)),
    };
  });
}

/** Does the reference's cumulative mass (highest probability first) come within TOP_P_EDGE of p? */
function nearTopPEdge(cpu: LayerRouting, p: number): boolean {
  const probs = [...cpu.expertIds.map((e) => cpu.moeProbs[e]!)].sort((a, b) => b - a);
  let mass = 0;
  return probs.some((q) => Math.abs((mass += q) - p) < TOP_P_EDGE);
}

function expectSameRouting(gpu: LayerRouting, cpu: LayerRouting, label: string): void {
  expect(gpu.expertIds, `${label} expertIds`).toEqual(cpu.expertIds);
  for (const [name, a, b] of [
    ['expertWeights', gpu.expertWeights, cpu.expertWeights],
    ['moeProbs', gpu.moeProbs, cpu.moeProbs],
  ] as const) {
    const report = allclose(a, b, TOLERANCE.routerProbs, `${label} ${name}`);
    expect(report.ok, report.message).toBe(true);
  }
}

const MIXTRAL: MoeSpec = { experts: 7, expertsPerToken: 2, normTopK: true, expertIntermediate: 8 };
const QWEN: MoeSpec = { experts: 7, expertsPerToken: 3, normTopK: false, expertIntermediate: 8 };

describe('router kernel matches routeToken on random logits', () => {
  it.each([
    { name: 'mixtral, no overrides', moe: MIXTRAL, overrides: undefined },
    { name: 'qwen2-moe (no renorm)', moe: QWEN, overrides: undefined },
    { name: 'expertsPerToken override 4', moe: MIXTRAL, overrides: { expertsPerToken: 4 } },
    { name: 'ban 2 experts at layer 1', moe: MIXTRAL, overrides: { ban: { experts: [0, 5], layers: [1] } } },
    { name: 'force one expert', moe: QWEN, overrides: { force: { experts: [6] } } },
    {
      name: 'ban + force + expertsPerToken',
      moe: MIXTRAL,
      overrides: { expertsPerToken: 3, ban: { experts: [1] }, force: { experts: [2, 4] } },
    },
    { name: 'ban down to one expert', moe: MIXTRAL, overrides: { ban: { experts: [0, 1, 2, 3, 4, 6] } } },
    { name: 'top-p 0.7', moe: MIXTRAL, overrides: { expertsTopP: { p: 0.7 } } },
    {
      name: 'top-p 0.9, min 2, max 4 (no renorm)',
      moe: QWEN,
      overrides: { expertsTopP: { p: 0.9, minExperts: 2, maxExperts: 4 } },
    },
    {
      name: 'top-p 0.6 at layer 1 + ban + force',
      moe: MIXTRAL,
      overrides: { expertsTopP: { p: 0.6, layers: [1] }, ban: { experts: [3] }, force: { experts: [5] } },
    },
  ])('$name', async ({ moe, overrides }) => {
    const nTokens = 67; // more than one workgroup
    const layer = 1;
    const logits = seededUniform(
      BASE_SEED + 500 + moe.expertsPerToken + JSON.stringify(overrides ?? {}).length,
      nTokens * moe.experts,
      3,
    );
    const gpu = await gpuRoute(logits, moe, layer, overrides);
    const cpuPlan = planRouting(moe, layer + 1, overrides);
    const layerPlan = cpuPlan.layers[layer]!;
    for (let t = 0; t < nTokens; t++) {
      const cpu = routeToken(logits.subarray(t * moe.experts, (t + 1) * moe.experts), moe, layerPlan);
      if (layerPlan.topP && gpu[t]!.expertIds.length !== cpu.expertIds.length && nearTopPEdge(cpu, layerPlan.topP.p)) {
        console.log(
          `token ${t}: mass within ${TOP_P_EDGE} of p, counts ${gpu[t]!.expertIds.length} vs ${cpu.expertIds.length}`,
        );
        const probs = allclose(gpu[t]!.moeProbs, cpu.moeProbs, TOLERANCE.routerProbs, `token ${t} moeProbs`);
        expect(probs.ok, probs.message).toBe(true);
        continue; // the one forgiven difference (the count), logged
      }
      expectSameRouting(gpu[t], cpu, `token ${t} (seed ${BASE_SEED})`);
    }
  });
});

// Hand-built logits, not seeded: each assertion depends on these exact known-answer inputs.
describe('router kernel known answers (one per rule)', () => {
  const moe: MoeSpec = { experts: 4, expertsPerToken: 2, normTopK: true, expertIntermediate: 8 };
  const ln = Math.log;
  it('top-k by probability, renormalized, highest first', async () => {
    const [r] = await gpuRoute(Float32Array.from([ln(1), ln(4), ln(2), ln(3)]), moe, 0);
    expect(r.expertIds).toEqual([1, 3]);
    expect(r.expertWeights[0]).toBeCloseTo(4 / 7, 6);
    expect(r.moeProbs[2]).toBeCloseTo(0.2, 6);
  });
  it('ties go to the lower expert id', async () => {
    const [r] = await gpuRoute(Float32Array.from([0, 1, 1, 1]), moe, 0);
    expect(r.expertIds).toEqual([1, 2]);
    expect(r.expertWeights).toEqual([0.5, 0.5]);
  });
  it('top-p: the fewest experts reaching p, within min/max, forced first', async () => {
    // probabilities [0.6, 0.3, 0.0999, 0.0001] (no −∞ logit: WGSL leaves infinities undefined)
    const known = Float32Array.from([0.6, 0.3, 0.0999, 0.0001].map(ln));
    const ids = async (expertsTopP: RoutingOverrides['expertsTopP'], force?: number[]) =>
      (await gpuRoute(known, moe, 0, { expertsTopP, ...(force ? { force: { experts: force } } : {}) }))[0]!.expertIds;
    expect(await ids({ p: 0.5 })).toEqual([0]);
    expect(await ids({ p: 0.85 })).toEqual([0, 1]);
    expect(await ids({ p: 0.95 })).toEqual([0, 1, 2]);
    expect(await ids({ p: 0.5, minExperts: 2 })).toEqual([0, 1]);
    expect(await ids({ p: 0.95, maxExperts: 2 })).toEqual([0, 1]);
    expect(await ids({ p: 0.5 }, [3])).toEqual([0, 3]);
    expect(await ids({ p: 0.25 }, [1])).toEqual([1]);
  });
  it('banned experts get probability 0 and are never chosen', async () => {
    const [r] = await gpuRoute(Float32Array.from([ln(1), ln(4), ln(2), ln(3)]), moe, 0, { ban: { experts: [1] } });
    expect(r.expertIds).toEqual([3, 2]);
    expect(r.moeProbs[1]).toBe(0);
    expect(r.moeProbs[3]).toBeCloseTo(0.5, 6);
  });
  it('forced experts take slots first, then ordered by weight', async () => {
    const [r] = await gpuRoute(Float32Array.from([ln(1), ln(4), ln(2), ln(3)]), moe, 0, { force: { experts: [0] } });
    expect(r.expertIds).toEqual([1, 0]);
    expect(r.expertWeights[1]).toBeCloseTo(1 / 5, 6);
  });
  it('no renormalization without normTopK (Qwen2-MoE)', async () => {
    const [r] = await gpuRoute(Float32Array.from([ln(1), ln(4), ln(2), ln(3)]), { ...moe, normTopK: false }, 0);
    expect(r.expertWeights[0]).toBeCloseTo(0.4, 6);
    expect(r.expertWeights[1]).toBeCloseTo(0.3, 6);
  });
});

/** Reference: Σ_slot w · down_e(silu(gate_e x) ⊙ up_e x) for one token. */
function referenceMoe(
  x: Float32Array,
  experts: Float32Array[][],
  ids: number[],
  weights: number[],
  hidden: number,
  inter: number,
): Float32Array {
  const out = new Float32Array(hidden);
  ids.forEach((e, slot) => {
    const [gate, up, down] = experts[e];
    const g = new Float32Array(inter);
    const u = new Float32Array(inter);
    const y = new Float32Array(hidden);
    matmul(g, gate, x, inter, hidden);
    matmul(u, up, x, inter, hidden);
    swiglu(g, g, u);
    matmul(y, down, g, hidden, inter);
    for (let i = 0; i < hidden; i++) out[i] += weights[slot] * y[i];
  });
  return out;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

describe('expert dispatch kernels read expert ids from the GPU routing records', () => {
  it.each(['f32', 'q8_0', 'q4_0'] as GpuWeightDType[])(
    '%s experts, 4 tokens, top-2 of 5 (the last leaves a slot unused, as top-p may)',
    async (dtype) => {
      const [E, hidden, inter, nTokens, k] = [5, 64, 96, 4, 2];
      const seedBase = BASE_SEED + dtype.length * 100;
      const raw = Array.from({ length: E }, (_, e) => [
        quantize('gate', seededUniform(seedBase + 3 * e, inter * hidden, 0.2), [inter, hidden], dtype),
        quantize('up', seededUniform(seedBase + 3 * e + 1, inter * hidden, 0.2), [inter, hidden], dtype),
        quantize('down', seededUniform(seedBase + 3 * e + 2, hidden * inter, 0.2), [hidden, inter], dtype),
      ]);
      const experts = raw.map((m) => m.map((t) => dequantize(t)));
      const x = seededUniform(seedBase + 99, nTokens * hidden);
      const residual = seededUniform(seedBase + 98, nTokens * hidden);
      const R = routeRecordWords(k, E);
      const records = new Uint32Array(nTokens * R);
      const recordFloats = new Float32Array(records.buffer);
      const choices = [
        [4, 1, 0.7, 0.3],
        [0, 3, 0.6, 0.4],
        [2, 4, 0.9, 0.1],
        [3, NO_EXPERT, 1, 0],
      ];
      choices.forEach(([a, b, wa, wb], t) => {
        records.set([a, b], t * R);
        recordFloats.set([wa, wb], t * R + k);
      });
      const stack = (role: number) => concatBytes(raw.map((m) => m[role].data));
      const h = await harness.run(
        'moe_gate_up',
        moeGateUpSource(dtype),
        [stack(0), stack(1), x, records, new Float32Array(nTokens * k * inter).fill(Number.NaN)], // unused slot stays NaN
        moeGateUpLaunch({ dtype, N: inter, K: hidden, nTokens, slots: k, routeBase: 0, routeStride: R }),
        5,
      );
      const y = await harness.runF32(
        'moe_down',
        moeDownSource(dtype),
        [stack(2), new Float32Array(h), records, residual],
        moeDownLaunch({ dtype, N: hidden, K: inter, nTokens, slots: k, routeBase: 0, routeStride: R, weightOffset: k }),
        4,
      );
      const expected = new Float32Array(nTokens * hidden);
      choices.forEach(([a, b, wa, wb], t) => {
        const [ids, mixWeights] =
          b === NO_EXPERT
            ? [[a], [wa]]
            : [
                [a, b],
                [wa, wb],
              ];
        const mix = referenceMoe(x.subarray(t * hidden, (t + 1) * hidden), experts, ids, mixWeights, hidden, inter);
        for (let i = 0; i < hidden; i++) expected[t * hidden + i] = residual[t * hidden + i] + mix[i];
      });
      const report = allclose(y, expected, TOLERANCE.moe, `moe ${dtype}`);
      console.log(report.message);
      expect(report.ok, `${report.message} (seed ${BASE_SEED})`).toBe(true);
    },
  );
});

describe('prefill expert dispatch grouped by expert', () => {
  it.each([
    ['f32', 'top-3'],
    ['q4_0', 'top-3'],
    ['f32', 'top-p: 3, 2 or 1 experts per token, unused slots NO_EXPERT'],
  ] as [GpuWeightDType, string][])(
    '%s, 11 tokens of 5 experts, %s: equals the reference mix',
    async (dtype, routing) => {
      const [E, hidden, inter, nTokens, k] = [5, 64, 32, 11, 3];
      const variable = routing.startsWith('top-p');
      const raw = Array.from({ length: E }, (_, e) => [
        quantize('gate', seededUniform(BASE_SEED + 700 + 3 * e, inter * hidden, 0.2), [inter, hidden], dtype),
        quantize('up', seededUniform(BASE_SEED + 701 + 3 * e, inter * hidden, 0.2), [inter, hidden], dtype),
        quantize('down', seededUniform(BASE_SEED + 702 + 3 * e, hidden * inter, 0.2), [hidden, inter], dtype),
      ]);
      const experts = raw.map((m) => m.map((t) => dequantize(t)));
      const x = seededUniform(BASE_SEED + 798, nTokens * hidden);
      const residual = seededUniform(BASE_SEED + 799, nTokens * hidden);
      const R = routeRecordWords(k, E);
      const records = new Uint32Array(nTokens * R);
      const recordFloats = new Float32Array(records.buffer);
      const choices = Array.from({ length: nTokens }, (_, t) => [t % E, (t + 1) % E, (t + 3) % E]); // offsets 0,1,3 are distinct mod 5
      for (const c of choices) expect(new Set(c).size, 'distinct experts per token').toBe(3);
      // top-p: token t uses 3 - (t % 3) slots; the slots it leaves unused hold NO_EXPERT, weight 0
      const used = (t: number) => (variable ? k - (t % 3) : k);
      const weights = [0.5, 0.3, 0.2];
      choices.forEach((ids, t) => {
        records.set([...ids.slice(0, used(t)), ...Array(k - used(t)).fill(NO_EXPERT)], t * R);
        recordFloats.set([...weights.slice(0, used(t)), ...Array(k - used(t)).fill(0)], t * R + k);
      });
      const unwritten = (floats: number) => new Float32Array(floats).fill(Number.NaN); // a skip that fails shows
      const stack = (role: number) => concatBytes(raw.map((m) => m[role].data));
      const listStride = nTokens;
      const groupArgs = { nTokens, slots: k, experts: E, listStride };
      const groupsBytes = await harness.run(
        'moe_group',
        moeGroupSource,
        [records, { zeros: moeGroupsWords(E, listStride) * 4 }],
        moeGroupLaunch({ ...groupArgs, routeBase: 0, routeStride: R }),
        2,
      );
      const counts = Array.from(new Uint32Array(groupsBytes, 0, E));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(choices.reduce((sum, _, t) => sum + used(t), 0));
      const h = await harness.run(
        'moe_gate_up_grouped',
        moeGateUpGroupedSource(dtype),
        [stack(0), stack(1), x, new Uint32Array(groupsBytes), unwritten(nTokens * k * inter)],
        moeGateUpGroupedLaunch({ ...groupArgs, dtype, N: inter, K: hidden }),
        5,
      );
      const yExpert = await harness.run(
        'moe_down_grouped',
        moeDownGroupedSource(dtype),
        [stack(2), new Float32Array(h), new Uint32Array(groupsBytes), records, unwritten(nTokens * k * hidden)],
        moeDownGroupedLaunch({
          ...groupArgs,
          dtype,
          N: hidden,
          K: inter,
          routeBase: 0,
          routeStride: R,
          weightOffset: k,
        }),
        5,
      );
      const y = await harness.runF32(
        'moe_combine',
        moeCombineSource,
        [new Float32Array(yExpert), records, residual],
        moeCombineLaunch({ N: hidden, nTokens, slots: k, routeBase: 0, routeStride: R }),
        3,
      );
      const expected = new Float32Array(nTokens * hidden);
      choices.forEach((ids, t) => {
        const [chosen, mixWeights] = [ids.slice(0, used(t)), weights.slice(0, used(t))];
        const mix = referenceMoe(x.subarray(t * hidden, (t + 1) * hidden), experts, chosen, mixWeights, hidden, inter);
        for (let i = 0; i < hidden; i++) expected[t * hidden + i] = residual[t * hidden + i] + mix[i];
      });
      const report = allclose(y, expected, TOLERANCE.moe, `grouped moe ${dtype}`);
      console.log(report.message);
      expect(report.ok, `${report.message} (seed ${BASE_SEED})`).toBe(true);
    },
  );
});
