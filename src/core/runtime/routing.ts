/**
 * THE routing rule. Every backend (cpu, webgpu, wasm) must produce exactly this
 * LayerRouting for the same router logits and overrides; their tests compare to it.
 *
 * For one token at one MoE layer, given routerLogits // [experts] = router · x:
 *
 *  1. ban     — banned experts (for this layer) get logit −∞, so they get probability 0
 *               and are left out of the softmax's normalization.
 *  2. softmax — moeProbs // [experts] = softmax(logits), computed in f64.
 *  3. k       — k = overrides.expertsPerTokenByLayer[layer] ?? overrides.expertsPerToken ??
 *               moe.expertsPerToken, then clamped to the
 *               number of experts that are not banned (banning 7 of 8 experts with top-2
 *               routes to the one left). At a top-p layer (overrides.expertsTopP) k is
 *               maxExperts (default: every expert), clamped the same way, and so is minExperts.
 *  4. force   — forced experts (for this layer) take slots first, whatever their
 *               probability; more forced experts than k is a ConfigError.
 *  5. top-k   — the remaining slots go to the highest-probability other experts.
 *               Ties are broken by the LOWER expert id (a stable, backend-independent rule).
 *     top-p   — at a top-p layer, slots are filled in that same order only until the chosen
 *               experts' probabilities (forced ones included, summed in f64 in the order they
 *               were taken) reach p and at least minExperts are chosen, or k are: the smallest
 *               such set. Banned experts have probability 0 and are never taken.
 *  6. weights — expertWeights = the chosen experts' moeProbs; if moe.normTopK they are
 *               divided by their sum (Mixtral always; Qwen2-MoE only with norm_topk_prob).
 *  7. order   — expertIds/expertWeights are listed highest weight first (ties: lower id).
 *
 * Steps 1, 3 and 4 depend only on the request, so planRouting turns the overrides into a
 * RoutingPlan (validated there, once); routeToken then applies one layer's plan to one token's
 * logits. Each session plans through a routingPlanner, which plans again only when the overrides
 * object changes: generate() passes one object for a whole request, so a request is validated
 * once, not per token × layer. The cpu, wasm and webgpu backends all consume that plan.
 *
 * The Qwen2-MoE shared expert is not routed: its gate sigmoid(sharedGate · x) needs the
 * hidden state, so the forward pass computes it (sharedExpertGate below) and fills
 * LayerRouting.sharedGate itself. routeToken never sets it.
 */
import { BackendError, ConfigError } from '../errors.ts';
import type { MoeSpec } from '../model/spec.ts';
import type { LayerRouting, RoutingOverrides } from './types.ts';

/** Does a request ask for any routing intervention? (An empty ban or force list is none.) */
export function hasRoutingOverrides(overrides: RoutingOverrides | undefined): boolean {
  return (
    overrides !== undefined &&
    (overrides.expertsPerToken !== undefined ||
      overrides.expertsPerTokenByLayer !== undefined ||
      overrides.expertsTopP !== undefined ||
      !!overrides.ban?.experts.length ||
      !!overrides.force?.experts.length)
  );
}

/** Does an override with this `layers` list apply at `layer`? (undefined = every layer) */
function appliesAt(layers: number[] | undefined, layer: number): boolean {
  return layers === undefined || layers.includes(layer);
}

function checkExpertIds(ids: number[], experts: number, field: string): void {
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= experts) {
      throw new ConfigError(`routing: ${field} expert ${id} is outside [0, ${experts})`);
    }
  }
}

/**
 * Validates overrides against a model's MoE spec; throws ConfigError naming the field.
 * Called by planRouting, and by the library API before a request starts.
 */
export function validateRoutingOverrides(
  overrides: RoutingOverrides | undefined,
  moe: Pick<MoeSpec, 'experts'>,
  nLayers?: number,
): void {
  if (!overrides) return;
  const { expertsPerToken, expertsPerTokenByLayer, ban, force } = overrides;
  const checkK = (k: number, field: string) => {
    if (!Number.isInteger(k) || k < 1 || k > moe.experts)
      throw new ConfigError(`routing: ${field} ${k} is outside [1, ${moe.experts}]`);
  };
  if (expertsPerToken !== undefined) checkK(expertsPerToken, 'expertsPerToken');
  if (expertsPerTokenByLayer !== undefined) {
    if (expertsPerToken !== undefined)
      throw new ConfigError('routing: give expertsPerToken or expertsPerTokenByLayer, not both');
    if (nLayers !== undefined && expertsPerTokenByLayer.length !== nLayers)
      throw new ConfigError(
        `routing: expertsPerTokenByLayer has ${expertsPerTokenByLayer.length} values, the model has ${nLayers} layers`,
      );
    expertsPerTokenByLayer.forEach((k, layer) => checkK(k, `expertsPerTokenByLayer[${layer}]`));
  }
  if (overrides.expertsTopP) validateExpertsTopP(overrides, moe, nLayers);
  if (ban) checkExpertIds(ban.experts, moe.experts, 'ban');
  if (force) checkExpertIds(force.experts, moe.experts, 'force');
  if (ban && force) {
    for (const id of force.experts) {
      if (!ban.experts.includes(id)) continue;
      const banLayers = ban.layers ?? null;
      const forceLayers = force.layers ?? null;
      const overlap = banLayers === null || forceLayers === null || banLayers.some((l) => forceLayers.includes(l));
      if (overlap) throw new ConfigError(`routing: expert ${id} is both banned and forced`);
    }
  }
}

function checkCount(value: number | undefined, field: string, experts: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > experts))
    throw new ConfigError(`routing: expertsTopP.${field} ${value} is outside [1, ${experts}]`);
}

/** expertsTopP's p, counts and layers; expertsPerToken beside it only when top-p names its layers. */
function validateExpertsTopP(
  overrides: RoutingOverrides,
  moe: Pick<MoeSpec, 'experts'>,
  nLayers: number | undefined,
): void {
  const { p, minExperts, maxExperts, layers } = overrides.expertsTopP!;
  if (typeof p !== 'number' || !(p > 0 && p <= 1))
    throw new ConfigError(`routing: expertsTopP.p ${p} is outside (0, 1]`);
  checkCount(minExperts, 'minExperts', moe.experts);
  checkCount(maxExperts, 'maxExperts', moe.experts);
  if (minExperts !== undefined && maxExperts !== undefined && minExperts > maxExperts)
    throw new ConfigError(`routing: expertsTopP.minExperts ${minExperts} exceeds maxExperts ${maxExperts}`);
  for (const layer of layers ?? []) {
    if (!Number.isInteger(layer) || layer < 0 || (nLayers !== undefined && layer >= nLayers))
      throw new ConfigError(`routing: expertsTopP layer ${layer} is outside [0, ${nLayers ?? 'layers'})`);
  }
  if (overrides.expertsPerToken !== undefined && layers === undefined)
    throw new ConfigError(
      'routing: expertsPerToken and expertsTopP both apply to every layer; cap top-p with expertsTopP.maxExperts, or give expertsTopP.layers',
    );
  if (overrides.expertsPerTokenByLayer !== undefined && layers === undefined)
    throw new ConfigError(
      'routing: expertsPerTokenByLayer and expertsTopP both apply to every layer; give expertsTopP.layers (the other layers keep their count)',
    );
}

/** Dynamic routing at one layer (LayerRoutingPlan.topP). */
export interface LayerTopP {
  /** Probability mass to reach, in (0, 1]. */
  p: number;
  /** Fewest experts chosen (≤ the layer's expertsPerToken). */
  minExperts: number;
}

/** One layer's share of a request's routing: what routeToken and the fused router kernel need. */
export interface LayerRoutingPlan {
  layer: number;
  /**
   * Experts chosen at this layer: the request's, clamped to the experts not banned here. At a
   * top-p layer: the most experts chosen (maxExperts, clamped the same way).
   */
  expertsPerToken: number;
  banned: number[];
  /** Forced experts take slots first (never more than expertsPerToken). */
  forced: number[];
  /** Set at a top-p layer: a token gets between topP.minExperts and expertsPerToken experts. */
  topP?: LayerTopP;
}

export interface RoutingPlan {
  /**
   * Slots in a routing record: the request's experts per token, or maxExperts when top-p routes
   * some layer and allows more (a layer may use fewer; under top-p a token may too).
   */
  expertsPerToken: number;
  layers: LayerRoutingPlan[]; // [layers]
}

/**
 * A request's overrides as a per-layer plan, validated once: bad ids, expertsPerToken out of
 * range, an expert both banned and forced, every expert banned at a layer, or more forced
 * experts than slots are ConfigErrors naming the layer.
 */
export function planRouting(moe: MoeSpec, nLayers: number, overrides?: RoutingOverrides): RoutingPlan {
  validateRoutingOverrides(overrides, moe, nLayers);
  const byLayer = overrides?.expertsPerTokenByLayer;
  const fixedExpertsPerToken = overrides?.expertsPerToken ?? moe.expertsPerToken;
  const topP = overrides?.expertsTopP;
  const topPMax = topP?.maxExperts ?? moe.experts;
  const layers = Array.from({ length: nLayers }, (_, layer): LayerRoutingPlan => {
    const dynamic = topP !== undefined && appliesAt(topP.layers, layer);
    const banned = [...new Set(overrides?.ban && appliesAt(overrides.ban.layers, layer) ? overrides.ban.experts : [])];
    const forced = [
      ...new Set(overrides?.force && appliesAt(overrides.force.layers, layer) ? overrides.force.experts : []),
    ];
    if (banned.length >= moe.experts)
      throw new ConfigError(`routing: every one of the ${moe.experts} experts is banned at layer ${layer}`);
    const k = Math.min(dynamic ? topPMax : (byLayer?.[layer] ?? fixedExpertsPerToken), moe.experts - banned.length);
    if (forced.length > k)
      throw new ConfigError(
        `routing: ${forced.length} forced experts at layer ${layer} exceed ${dynamic ? 'expertsTopP.maxExperts' : 'expertsPerToken'} ${k}`,
      );
    if (!dynamic) return { layer, expertsPerToken: k, banned, forced };
    return {
      layer,
      expertsPerToken: k,
      banned,
      forced,
      topP: { p: topP.p, minExperts: Math.min(topP.minExperts ?? 1, k) },
    };
  });
  // Routing records hold the most slots any layer uses; a layer with fewer leaves the rest unused.
  const fixedLayers = layers.filter((l) => l.topP === undefined).map((l) => byLayer?.[l.layer] ?? fixedExpertsPerToken);
  const expertsPerToken = Math.max(...fixedLayers, topP ? topPMax : 0);
  return { expertsPerToken, layers };
}

/**
 * planRouting for one session: the plan of the last overrides object is kept, so every
 * forward() of one request (same object) reuses it. undefined for a dense model.
 */
export function routingPlanner(
  moe: MoeSpec | undefined,
  nLayers: number,
): (overrides: RoutingOverrides | undefined) => RoutingPlan | undefined {
  let last: { overrides: RoutingOverrides | undefined; plan: RoutingPlan } | undefined;
  return (overrides) => {
    if (!moe) return undefined;
    if (!last || last.overrides !== overrides) last = { overrides, plan: planRouting(moe, nLayers, overrides) };
    return last.plan;
  };
}

/** Full softmax over router logits after bans, in f64. routerLogits // [experts] */
export function routerSoftmax(routerLogits: ArrayLike<number>, banned: ReadonlySet<number>): number[] {
  const n = routerLogits.length;
  let max = -Infinity;
  for (let e = 0; e < n; e++) if (!banned.has(e) && routerLogits[e] > max) max = routerLogits[e];
  if (max === -Infinity) throw new BackendError(`routing: no finite router logit among ${n} experts`);
  const probs = new Array<number>(n).fill(0);
  let sum = 0;
  for (let e = 0; e < n; e++) {
    if (banned.has(e)) continue;
    probs[e] = Math.exp(routerLogits[e] - max);
    sum += probs[e];
  }
  for (let e = 0; e < n; e++) probs[e] /= sum;
  return probs;
}

/** Orders expert ids by probability, highest first; ties go to the lower id. */
function byProbabilityThenId(probs: readonly number[]): (a: number, b: number) => number {
  return (a, b) => probs[b] - probs[a] || a - b;
}

/**
 * Routes one token at one layer by that layer's plan. routerLogits // [experts]. See the file
 * comment for the rule; the plan was validated by planRouting.
 */
export function routeToken(routerLogits: ArrayLike<number>, moe: MoeSpec, plan: LayerRoutingPlan): LayerRouting {
  if (routerLogits.length !== moe.experts) {
    throw new ConfigError(`routing: ${routerLogits.length} router logits for ${moe.experts} experts`);
  }
  for (let e = 0; e < moe.experts; e++) {
    if (Number.isNaN(routerLogits[e]))
      throw new BackendError(`routing: router logit of expert ${e} at layer ${plan.layer} is NaN`);
  }
  const banned = new Set<number>(plan.banned);
  const forced = plan.forced;
  const moeProbs = routerSoftmax(routerLogits, banned);
  const k = plan.expertsPerToken;
  const order = byProbabilityThenId(moeProbs);
  const others = [];
  for (let e = 0; e < moe.experts; e++) if (!banned.has(e) && !forced.includes(e)) others.push(e);
  others.sort(order);
  const chosen = [...forced];
  let mass = 0; // f64, in the order experts are taken (forced first)
  for (const e of forced) mass += moeProbs[e];
  for (const e of others) {
    if (chosen.length >= k) break;
    if (plan.topP && chosen.length >= plan.topP.minExperts && mass >= plan.topP.p) break;
    chosen.push(e);
    mass += moeProbs[e];
  }
  chosen.sort(order);
  const weights = chosen.map((e) => moeProbs[e]);
  if (moe.normTopK) {
    const sum = weights.reduce((a, b) => a + b, 0);
    if (sum > 0) for (let i = 0; i < weights.length; i++) weights[i] /= sum;
  }
  return { expertIds: chosen, expertWeights: weights, moeProbs };
}

/** Qwen2-MoE shared-expert gate: sigmoid(sharedGate · x), given the dot product. */
export function sharedExpertGate(gateLogit: number): number {
  return 1 / (1 + Math.exp(-gateLogit));
}
