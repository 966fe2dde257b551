/**
 * Turns a request's RoutingOverrides into what the fused router kernel needs per layer
 * (k, banned, forced), following runtime/routing.ts's routeToken exactly: bans and forces
 * apply at their listed layers (all when unlisted), k = topK override ?? moe.topK clamped
 * to the unbanned experts, more forced experts than k is a ConfigError. Validation is the
 * shared validateRoutingOverrides, so the GPU path rejects exactly what the CPU rejects.
 */
import { ConfigError } from '../../errors.ts';
import type { MoeSpec } from '../../model/spec.ts';
import { validateRoutingOverrides } from '../routing.ts';
import type { RoutingOverrides } from '../types.ts';

export interface LayerRoutingArgs {
  k: number; // experts chosen at this layer
  banned: number[];
  forced: number[];
}

export interface RoutingPlan {
  recordK: number; // slots per routing record: the request's top-k
  layers: LayerRoutingArgs[]; // [layers]
}

function appliesAt(layers: number[] | undefined, layer: number): boolean {
  return layers === undefined || layers.includes(layer);
}

export function planRouting(moe: MoeSpec, nLayers: number, overrides?: RoutingOverrides): RoutingPlan {
  validateRoutingOverrides(overrides, moe);
  const recordK = overrides?.topK ?? moe.topK;
  const layers = Array.from({ length: nLayers }, (_, layer): LayerRoutingArgs => {
    const banned = [...new Set(overrides?.ban && appliesAt(overrides.ban.layers, layer) ? overrides.ban.experts : [])];
    const forced = [
      ...new Set(overrides?.force && appliesAt(overrides.force.layers, layer) ? overrides.force.experts : []),
    ];
    if (banned.length >= moe.experts)
      throw new ConfigError(`routing: every one of the ${moe.experts} experts is banned`);
    const k = Math.min(recordK, moe.experts - banned.length);
    if (forced.length > k)
      throw new ConfigError(`routing: ${forced.length} forced experts at layer ${layer} exceed topK ${k}`);
    return { k, banned, forced };
  });
  return { recordK, layers };
}
