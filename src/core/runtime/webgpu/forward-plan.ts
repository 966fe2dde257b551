/**
 * The WebGPU forward pass as a plan: kernel sites (pipeline + bind group + params slot)
 * built once per session, and per chunk of tokens the list of steps that run them.
 * Reads like the CPU reference's forwardToken, for a chunk of tokens at a time:
 *
 *   x = embed[tokens]
 *   per layer: x += wo · attention(rope(wq·norm(x)), keyCache ← rope(wk·norm(x)), valueCache ← wv·norm(x))
 *              x += mlp(norm(x))  |  router → routing records → Σ_k w·expert_k(norm(x)) (+ shared expert)
 *   logits = lmHead · norm(x[last])
 *
 * Routing never leaves the GPU: router_topk writes records that moe_gate_up / moe_down read.
 */
import { assert } from '../../errors.ts';
import { attentionWindow, type ModelSpec } from '../../model/spec.ts';
import type { Activations } from './activations.ts';
import { createSite, type KernelSite, type ParamArena, type Step } from './dispatch.ts';
import type { GpuContext } from './gpu-context.ts';
import {
  attentionScoresLaunch,
  attentionScoresSource,
  attentionSoftmaxLaunch,
  attentionSoftmaxSource,
  attentionValuesLaunch,
  attentionValuesSource,
} from './kernels/attention.ts';
import { embedLaunch, embedSource } from './kernels/embed.ts';
import type { KernelLaunch, WeightPart } from './kernels/launch.ts';
import { matmulLaunch, matmulSource, matvecLaunch, matvecSource, type MatmulArgs } from './kernels/matmul.ts';
import {
  moeDownLaunch,
  moeDownSource,
  moeGateUpLaunch,
  moeGateUpSource,
  type MoeDownArgs,
  type MoeGateUpArgs,
} from './kernels/moe.ts';
import {
  moeCombineLaunch,
  moeCombineSource,
  moeDownGroupedLaunch,
  moeDownGroupedSource,
  moeGateUpGroupedLaunch,
  moeGateUpGroupedSource,
  moeGroupLaunch,
  moeGroupSource,
} from './kernels/moe-grouped.ts';
import { rmsnormLaunch, rmsnormSource } from './kernels/rmsnorm.ts';
import { qkNormLaunch, qkNormSource } from './kernels/qk-norm.ts';
import { ropeLaunch, ropeSource } from './kernels/rope.ts';
import {
  routeRecordLayout,
  routeRecordWords,
  routerLaunch,
  routerSource,
  sharedGateLaunch,
  sharedGateSource,
} from './kernels/router.ts';
import { swigluLaunch, swigluSource } from './kernels/swiglu.ts';
import type { RoutingPlan } from '../routing.ts';
import type { GpuExpertStack, GpuLayer, GpuMatrix, GpuMatrixPart, GpuModel } from './upload.ts';

/**
 * A matmul position: the decode mat-vec and the prefill tiled kernel on the same buffers,
 * one pair per part of the matrix (one unless it is split past the binding limit).
 */
type MatmulSites = { one: KernelSite; tiled: KernelSite; part: WeightPart }[];
/** Sites per part of a split stack (gate and up are split alike). */
type PartSites = { site: KernelSite; part: WeightPart }[];
interface ExpertSites {
  experts: number;
  gateUp: PartSites;
  down: PartSites;
}
/** Prefill: tokens grouped by expert. */
interface GroupedSites {
  group: KernelSite;
  gateUp: PartSites;
  down: PartSites;
  combine: KernelSite;
}

interface LayerSites {
  attnNorm: KernelSite;
  wq: MatmulSites;
  wk: MatmulSites;
  wv: MatmulSites;
  /** Qwen3's per-head q/k norm (qk_norm.wgsl), before RoPE. */
  qkNorm?: KernelSite;
  rope: KernelSite;
  scores: KernelSite;
  softmax: KernelSite;
  values: KernelSite;
  wo: MatmulSites;
  ffnNorm: KernelSite;
  mlp?: { gate: MatmulSites; up: MatmulSites; swiglu: KernelSite; down: MatmulSites };
  moe?: {
    router: MatmulSites;
    route: KernelSite;
    routed: ExpertSites;
    grouped: GroupedSites;
    sharedGate?: KernelSite;
    shared?: ExpertSites;
  };
}

export interface ForwardSites {
  embed: PartSites;
  layers: LayerSites[];
  finalNorm: KernelSite;
  lmHead: MatmulSites;
}

/** One chunk: `nTokens` tokens at positions position..position+nTokens-1. */
export interface Chunk {
  position: number;
  nTokens: number;
  isLast: boolean;
}

type SiteMaker = (label: string, source: string, buffers: GPUBuffer[]) => Promise<KernelSite>;

/** `label` for part i of n: the plain label when the matrix is whole. */
function partLabel(label: string, i: number, n: number): string {
  return n > 1 ? `${label}[part ${i}]` : label;
}

async function matmulSite(
  make: SiteMaker,
  label: string,
  w: GpuMatrix,
  x: GPUBuffer,
  y: GPUBuffer,
  bias: GPUBuffer,
): Promise<MatmulSites> {
  const sites: MatmulSites = [];
  for (const [i, part] of w.parts.entries()) {
    const name = partLabel(label, i, w.parts.length);
    sites.push({
      one: await make(`${name}.matvec`, matvecSource(w.dtype), [part.buffer, x, y, bias]),
      tiled: await make(`${name}.matmul`, matmulSource(w.dtype), [part.buffer, x, y, bias]),
      part,
    });
  }
  return sites;
}

/** gate and up of a stack are split alike (same shape and dtype); their parts pair up. */
function gateUpParts(stack: GpuExpertStack): [GpuMatrixPart, GpuMatrixPart][] {
  const { gate, up } = stack;
  assert(gate.parts.length === up.parts.length, 'webgpu: gate and up stacks split differently');
  return gate.parts.map((g, i) => [g, up.parts[i]]);
}

async function expertSites(
  make: SiteMaker,
  label: string,
  stack: GpuExpertStack,
  a: Activations,
): Promise<ExpertSites> {
  const gateUp: PartSites = [];
  const pairs = gateUpParts(stack);
  for (const [i, [g, u]] of pairs.entries()) {
    const site = await make(`${partLabel(label, i, pairs.length)}.gate_up`, moeGateUpSource(stack.gate.dtype), [
      g.buffer,
      u.buffer,
      a.xb,
      a.route,
      a.h,
    ]);
    gateUp.push({ site, part: g });
  }
  const down: PartSites = [];
  for (const [i, d] of stack.down.parts.entries()) {
    const name = `${partLabel(label, i, stack.down.parts.length)}.down`;
    down.push({ site: await make(name, moeDownSource(stack.down.dtype), [d.buffer, a.h, a.route, a.x]), part: d });
  }
  return { experts: stack.experts, gateUp, down };
}

async function groupedSites(
  make: SiteMaker,
  label: string,
  stack: GpuExpertStack,
  a: Activations,
): Promise<GroupedSites> {
  const gateUp: PartSites = [];
  const pairs = gateUpParts(stack);
  for (const [i, [g, u]] of pairs.entries()) {
    const name = `${partLabel(label, i, pairs.length)}.gate_up_grouped`;
    const site = await make(name, moeGateUpGroupedSource(stack.gate.dtype), [g.buffer, u.buffer, a.xb, a.groups, a.h]);
    gateUp.push({ site, part: g });
  }
  const down: PartSites = [];
  for (const [i, d] of stack.down.parts.entries()) {
    const name = `${partLabel(label, i, stack.down.parts.length)}.down_grouped`;
    const site = await make(name, moeDownGroupedSource(stack.down.dtype), [
      d.buffer,
      a.h,
      a.groups,
      a.route,
      a.yExpert,
    ]);
    down.push({ site, part: d });
  }
  return {
    group: await make(`${label}.group`, moeGroupSource, [a.route, a.groups]),
    gateUp,
    down,
    combine: await make(`${label}.combine`, moeCombineSource, [a.yExpert, a.route, a.x]),
  };
}

async function layerSites(make: SiteMaker, layer: GpuLayer, l: number, a: Activations): Promise<LayerSites> {
  const p = `layers.${l}`;
  const sites: LayerSites = {
    attnNorm: await make(`${p}.attn_norm`, rmsnormSource, [a.x, layer.attnNorm, a.xb]),
    wq: await matmulSite(make, `${p}.wq`, layer.wq, a.xb, a.q, layer.bq ?? a.empty),
    wk: await matmulSite(make, `${p}.wk`, layer.wk, a.xb, a.keyCache[l], layer.bk ?? a.empty),
    wv: await matmulSite(make, `${p}.wv`, layer.wv, a.xb, a.valueCache[l], layer.bv ?? a.empty),
    rope: await make(`${p}.rope`, ropeSource, [a.q, a.keyCache[l], a.ropeTable]),
    scores: await make(`${p}.attn_scores`, attentionScoresSource, [a.q, a.keyCache[l], a.scores]),
    softmax: await make(`${p}.attn_softmax`, attentionSoftmaxSource, [a.scores]),
    values: await make(`${p}.attn_values`, attentionValuesSource, [a.scores, a.valueCache[l], a.attnOut]),
    wo: await matmulSite(make, `${p}.wo`, layer.wo, a.attnOut, a.x, a.empty),
    ffnNorm: await make(`${p}.ffn_norm`, rmsnormSource, [a.x, layer.ffnNorm, a.xb]),
  };
  if (layer.qNorm && layer.kNorm)
    sites.qkNorm = await make(`${p}.qk_norm`, qkNormSource, [a.q, a.keyCache[l], layer.qNorm, layer.kNorm]);
  if (layer.mlp) {
    sites.mlp = {
      gate: await matmulSite(make, `${p}.mlp.gate`, layer.mlp.gate, a.xb, a.gate, a.empty),
      up: await matmulSite(make, `${p}.mlp.up`, layer.mlp.up, a.xb, a.up, a.empty),
      swiglu: await make(`${p}.mlp.swiglu`, swigluSource, [a.gate, a.up]),
      down: await matmulSite(make, `${p}.mlp.down`, layer.mlp.down, a.gate, a.x, a.empty),
    };
  } else if (layer.moe) {
    const m = layer.moe;
    sites.moe = {
      router: await matmulSite(make, `${p}.router`, m.router, a.xb, a.routerLogits, a.empty),
      route: await make(`${p}.route`, routerSource, [a.routerLogits, a.route]),
      routed: await expertSites(make, `${p}.experts`, m.routed, a),
      grouped: await groupedSites(make, `${p}.experts`, m.routed, a),
    };
    if (m.shared) {
      // the shared gate is one row, never split (upload.ts)
      const gateW = m.sharedGate ? { buffer: m.sharedGate.parts[0].buffer, dtype: m.sharedGate.dtype } : undefined;
      sites.moe.sharedGate = await make(`${p}.shared_gate`, sharedGateSource(gateW?.dtype ?? 'f32'), [
        gateW?.buffer ?? a.empty,
        a.xb,
        a.route,
      ]);
      sites.moe.shared = await expertSites(make, `${p}.shared_expert`, m.shared, a);
    }
  }
  return sites;
}

async function embedSites(make: SiteMaker, table: GpuMatrix, a: Activations): Promise<PartSites> {
  const sites: PartSites = [];
  for (const [i, part] of table.parts.entries()) {
    const label = partLabel('embed', i, table.parts.length);
    sites.push({ site: await make(label, embedSource(table.dtype), [part.buffer, a.tokenIds, a.x]), part });
  }
  return sites;
}

export async function createForwardSites(
  context: GpuContext,
  arena: ParamArena,
  model: GpuModel,
  a: Activations,
): Promise<ForwardSites> {
  const make: SiteMaker = (label, source, buffers) => createSite(context, arena, label, source, buffers);
  const layers: LayerSites[] = [];
  for (let l = 0; l < model.layers.length; l++) layers.push(await layerSites(make, model.layers[l], l, a));
  return {
    embed: await embedSites(make, model.embed, a),
    layers,
    finalNorm: await make('final_norm', rmsnormSource, [a.x, model.finalNorm, a.xb]),
    lmHead: await matmulSite(make, 'lm_head', model.lmHead, a.xb, a.logits, a.empty),
  };
}

/** Where a chunk's captured layer inputs go (captureLayerInputs), when asked for. */
export interface CaptureTarget {
  buffer: GPUBuffer;
  offset: number;
}

function dispatch(site: KernelSite, launch: KernelLaunch): Step {
  return { kind: 'dispatch', site, launch };
}

/**
 * Decode (one token) runs the mat-vec; prefill the 4-token tiled kernel. A split matrix runs
 * once per part, each writing its rows of y (bias-read matrices are never split).
 */
function matmulStep(sites: MatmulSites, args: MatmulArgs): Step[] {
  assert(sites.length === 1 || !args.hasBias, 'webgpu: a split matrix has no bias');
  return sites.map(({ one, tiled, part }) => {
    // a whole matrix's one part gives back args' own N, yOffset and yStride
    const partArgs = {
      ...args,
      N: part.rowCount,
      yOffset: (args.yOffset ?? 0) + part.row0,
      yStride: args.yStride ?? args.N,
    };
    return args.nTokens === 1 ? dispatch(one, matvecLaunch(partArgs)) : dispatch(tiled, matmulLaunch(partArgs));
  });
}

/** moe_gate_up then moe_down, once per part of a split stack (each part skips other experts' slots). */
function expertDecodeSteps(
  steps: Step[],
  sites: ExpertSites,
  args: { gateUp: Omit<MoeGateUpArgs, 'part'>; down: Omit<MoeDownArgs, 'part'> },
): void {
  const { experts } = sites;
  for (const { site, part } of sites.gateUp)
    steps.push(dispatch(site, moeGateUpLaunch({ ...args.gateUp, part: { part, experts } })));
  for (const { site, part } of sites.down)
    steps.push(dispatch(site, moeDownLaunch({ ...args.down, part: { part, experts } })));
}

function moeSteps(
  steps: Step[],
  spec: ModelSpec,
  layer: GpuLayer,
  sites: NonNullable<LayerSites['moe']>,
  l: number,
  n: number,
  routing: RoutingPlan,
  listStride: number,
): void {
  const moe = layer.moe!;
  const E = moe.routed.experts;
  const R = routeRecordWords(routing.expertsPerToken, E);
  const record = routeRecordLayout(routing.expertsPerToken, E);
  const routeBase = l * R;
  const routeStride = spec.layers * R;
  const { expertsPerToken, banned, forced, topP } = routing.layers[l];
  const hidden = spec.hidden;
  steps.push(...matmulStep(sites.router, { dtype: moe.router.dtype, N: E, K: hidden, nTokens: n }));
  steps.push(
    dispatch(
      sites.route,
      routerLaunch({
        nTokens: n,
        experts: E,
        k: expertsPerToken,
        recordK: routing.expertsPerToken,
        normTopK: spec.moe!.normTopK,
        routeBase,
        routeStride,
        banned,
        forced,
        topP,
      }),
    ),
  );
  const inter = moe.routed.intermediate;
  if (n === 1) {
    // decode: each kernel reads the token's expert ids and offsets into the stacked weights
    expertDecodeSteps(steps, sites.routed, {
      gateUp: {
        dtype: moe.routed.gate.dtype,
        N: inter,
        K: hidden,
        nTokens: n,
        slots: expertsPerToken,
        routeBase,
        routeStride,
      },
      down: {
        dtype: moe.routed.down.dtype,
        N: hidden,
        K: inter,
        nTokens: n,
        slots: expertsPerToken,
        routeBase,
        routeStride,
        weightOffset: record.weights,
      },
    });
  } else {
    // prefill: group token slots by expert on the GPU, run each expert over its tokens
    const g = sites.grouped;
    const grouped = { nTokens: n, slots: expertsPerToken, experts: E, listStride };
    steps.push(dispatch(g.group, moeGroupLaunch({ ...grouped, routeBase, routeStride })));
    for (const { site, part } of g.gateUp)
      steps.push(
        dispatch(site, moeGateUpGroupedLaunch({ ...grouped, dtype: moe.routed.gate.dtype, N: inter, K: hidden, part })),
      );
    for (const { site, part } of g.down) {
      const args = {
        ...grouped,
        dtype: moe.routed.down.dtype,
        N: hidden,
        K: inter,
        routeBase,
        routeStride,
        weightOffset: record.weights,
        part,
      };
      steps.push(dispatch(site, moeDownGroupedLaunch(args)));
    }
    steps.push(
      dispatch(g.combine, moeCombineLaunch({ N: hidden, nTokens: n, slots: expertsPerToken, routeBase, routeStride })),
    );
  }
  if (moe.shared && sites.shared && sites.sharedGate) {
    const sharedBase = routeBase + record.sharedId;
    const gated = moe.sharedGate !== undefined;
    steps.push(
      dispatch(
        sites.sharedGate,
        sharedGateLaunch({ dtype: moe.sharedGate?.dtype ?? 'f32', hidden, nTokens: n, gated, sharedBase, routeStride }),
      ),
    );
    const si = moe.shared.intermediate;
    expertDecodeSteps(steps, sites.shared, {
      gateUp: {
        dtype: moe.shared.gate.dtype,
        N: si,
        K: hidden,
        nTokens: n,
        slots: 1,
        routeBase: sharedBase,
        routeStride,
      },
      down: {
        dtype: moe.shared.down.dtype,
        N: hidden,
        K: si,
        nTokens: n,
        slots: 1,
        routeBase: sharedBase,
        routeStride,
        weightOffset: 1,
      },
    });
  }
}

function layerSteps(
  steps: Step[],
  model: GpuModel,
  sites: LayerSites,
  l: number,
  chunk: Chunk,
  routing: RoutingPlan | undefined,
  maxContext: number,
  listStride: number,
): void {
  const spec = model.spec;
  const layer = model.layers[l];
  const { hidden, heads, kvHeads, headDim, rmsEps } = spec;
  const n = chunk.nTokens;
  const qDim = heads * headDim;
  const kvDim = kvHeads * headDim;
  steps.push(dispatch(sites.attnNorm, rmsnormLaunch({ N: hidden, nTokens: n, eps: rmsEps })));
  steps.push(...matmulStep(sites.wq, { dtype: layer.wq.dtype, N: qDim, K: hidden, nTokens: n, hasBias: !!layer.bq }));
  const kvOut = { K: hidden, nTokens: n, N: kvDim, yOffset: chunk.position * kvDim };
  steps.push(...matmulStep(sites.wk, { dtype: layer.wk.dtype, ...kvOut, hasBias: !!layer.bk }));
  steps.push(...matmulStep(sites.wv, { dtype: layer.wv.dtype, ...kvOut, hasBias: !!layer.bv }));
  if (sites.qkNorm)
    steps.push(
      dispatch(
        sites.qkNorm,
        qkNormLaunch({ nTokens: n, position: chunk.position, headDim, qHeads: heads, kvHeads, eps: rmsEps }),
      ),
    );
  steps.push(
    dispatch(
      sites.rope,
      ropeLaunch({ nTokens: n, position: chunk.position, headDim, qHeads: heads, kvHeads, style: spec.ropeStyle }),
    ),
  );
  // Mistral's sliding window, and Qwen2's from max_window_layers on
  const window = Math.min(maxContext, attentionWindow(model.spec, l) ?? maxContext);
  const attention = { nTokens: n, position: chunk.position, headDim, qHeads: heads, kvHeads, maxContext, window };
  steps.push(dispatch(sites.scores, attentionScoresLaunch(attention)));
  steps.push(dispatch(sites.softmax, attentionSoftmaxLaunch(attention)));
  steps.push(dispatch(sites.values, attentionValuesLaunch(attention)));
  steps.push(...matmulStep(sites.wo, { dtype: layer.wo.dtype, N: hidden, K: qDim, nTokens: n, accumulate: true }));
  steps.push(dispatch(sites.ffnNorm, rmsnormLaunch({ N: hidden, nTokens: n, eps: rmsEps })));
  if (layer.mlp && sites.mlp) {
    const inter = layer.mlp.gate.rows;
    steps.push(...matmulStep(sites.mlp.gate, { dtype: layer.mlp.gate.dtype, N: inter, K: hidden, nTokens: n }));
    steps.push(...matmulStep(sites.mlp.up, { dtype: layer.mlp.up.dtype, N: inter, K: hidden, nTokens: n }));
    steps.push(dispatch(sites.mlp.swiglu, swigluLaunch(n * inter)));
    steps.push(
      ...matmulStep(sites.mlp.down, { dtype: layer.mlp.down.dtype, N: hidden, K: inter, nTokens: n, accumulate: true }),
    );
  } else if (sites.moe && routing) {
    moeSteps(steps, spec, layer, sites.moe, l, n, routing, listStride);
  }
}

/** Steps of one chunk; the last chunk also computes the logits of its last token. */
export function chunkSteps(
  model: GpuModel,
  sites: ForwardSites,
  a: Activations,
  chunk: Chunk,
  routing: RoutingPlan | undefined,
  maxContext: number,
  capture?: CaptureTarget,
): Step[] {
  const { hidden, vocab, rmsEps } = model.spec;
  const n = chunk.nTokens;
  const steps: Step[] = sites.embed.map(({ site, part }) =>
    dispatch(site, embedLaunch(model.embed.dtype, hidden, n, { row0: part.row0, count: part.rowCount, vocab })),
  );
  for (let l = 0; l < model.layers.length; l++) {
    if (capture && chunk.isLast) {
      steps.push({
        kind: 'copy',
        from: a.x,
        fromOffset: (n - 1) * hidden * 4,
        to: capture.buffer,
        toOffset: capture.offset + l * hidden * 4,
        size: hidden * 4,
      });
    }
    layerSteps(steps, model, sites.layers[l], l, chunk, routing, maxContext, a.chunkTokens);
  }
  if (chunk.isLast) {
    steps.push(
      dispatch(sites.finalNorm, rmsnormLaunch({ N: hidden, nTokens: 1, eps: rmsEps, xOffset: (n - 1) * hidden })),
    );
    steps.push(...matmulStep(sites.lmHead, { dtype: model.lmHead.dtype, N: vocab, K: hidden, nTokens: 1 }));
  }
  return steps;
}
