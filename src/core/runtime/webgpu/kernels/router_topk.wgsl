// Fused router: routerLogits → (ban) → softmax → top-k with forced experts → renormalize →
// order by weight, written into the routing record that the expert kernels read directly
// (no CPU round-trip). Exactly runtime/routing.ts's routeToken; k is already clamped to the
// unbanned experts and validated (forced ≤ k) on the CPU, per request.
// Top-p layers (topP > 0): slots are filled only until the chosen probabilities reach topP and
// at least minK are chosen; the unused slots [chosen, k) get id NO_EXPERT and weight 0, and
// every expert kernel skips them. The mass is summed in f32 here (f64 in routeToken).
//
// Routing record of one (token, layer), in u32 words at route[routeBase + t*routeStride],
// with R = recordK (the request's top-k; this layer's k ≤ R when bans clamp it):
//   [0, k)        expertIds            (u32; NO_EXPERT in slots a top-p token leaves unused)
//   [R, R+k)      expertWeights        (f32 bits)
//   [2R, 2R+E)    moeProbs             (f32 bits)
//   [2R+E]        shared expert id (0) [2R+E+1] sharedGate (f32 bits; written by shared_gate)
const MAX_EXPERTS: u32 = 64u;
const NO_EXPERT: u32 = 0xffffffffu;  // an unused slot (top-p); keep in sync with router.ts

struct Params {
  nTokens: u32,
  experts: u32,
  k: u32,         // experts chosen at this layer (top-p: the most)
  recordK: u32,   // slots per record
  normTopK: u32,
  logitsOffset: u32,
  logitsStride: u32,
  routeBase: u32,
  routeStride: u32,
  minK: u32,             // top-p: fewest experts chosen (vec2 below is 8-byte aligned)
  banMask: vec2<u32>,    // bit e: expert e is banned at this layer
  forceMask: vec2<u32>,  // bit e: expert e is forced at this layer
  topP: f32,             // probability mass to reach; 0 = a fixed k
  pad1: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> routerLogits: array<f32>;  // [nTokens, logitsStride]
@group(0) @binding(2) var<storage, read_write> route: array<u32>;   // records, see above

fn inMask(mask: vec2<u32>, e: u32) -> bool {
  return ((mask[e / 32u] >> (e % 32u)) & 1u) == 1u;
}

// a before b: higher probability first, ties to the lower id
fn before(pa: f32, a: u32, pb: f32, b: u32) -> bool {
  return pa > pb || (pa == pb && a < b);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  if (t >= p.nTokens) { return; }
  let E = p.experts;
  let logitBase = p.logitsOffset + t * p.logitsStride;
  var probs: array<f32, MAX_EXPERTS>;
  var maxLogit = -3.0e38;
  for (var e = 0u; e < E; e++) {
    if (!inMask(p.banMask, e)) { maxLogit = max(maxLogit, routerLogits[logitBase + e]); }
  }
  var sum = 0.0;
  for (var e = 0u; e < E; e++) {
    probs[e] = 0.0;
    if (!inMask(p.banMask, e)) { probs[e] = exp(routerLogits[logitBase + e] - maxLogit); sum += probs[e]; }
  }
  for (var e = 0u; e < E; e++) { probs[e] = probs[e] / sum; }

  // forced experts take slots first, then the best others
  var chosen: array<u32, MAX_EXPERTS>;
  var taken: array<bool, MAX_EXPERTS>;
  var count = 0u;
  var mass = 0.0;  // probability of the chosen experts, in the order they are taken
  for (var e = 0u; e < E; e++) {
    taken[e] = inMask(p.forceMask, e);
    if (taken[e]) { chosen[count] = e; count++; mass += probs[e]; }
  }
  for (; count < p.k; count++) {
    if (p.topP > 0.0 && count >= p.minK && mass >= p.topP) { break; }
    var best = E;
    for (var e = 0u; e < E; e++) {
      if (taken[e] || inMask(p.banMask, e)) { continue; }
      if (best == E || before(probs[e], e, probs[best], best)) { best = e; }
    }
    taken[best] = true;
    chosen[count] = best;
    mass += probs[best];
  }
  // order by probability (= by weight), ties to the lower id: insertion sort of k entries
  for (var i = 1u; i < count; i++) {
    let id = chosen[i];
    var j = i;
    while (j > 0u && before(probs[id], id, probs[chosen[j - 1u]], chosen[j - 1u])) {
      chosen[j] = chosen[j - 1u];
      j--;
    }
    chosen[j] = id;
  }
  var weightSum = 0.0;
  for (var i = 0u; i < count; i++) { weightSum += probs[chosen[i]]; }
  let norm = select(1.0, 1.0 / weightSum, p.normTopK != 0u && weightSum > 0.0);
  let base = p.routeBase + t * p.routeStride;
  for (var i = 0u; i < count; i++) {
    route[base + i] = chosen[i];
    route[base + p.recordK + i] = bitcast<u32>(probs[chosen[i]] * norm);
  }
  for (var i = count; i < p.k; i++) {
    route[base + i] = NO_EXPERT;
    route[base + p.recordK + i] = bitcast<u32>(0.0);
  }
  for (var e = 0u; e < E; e++) { route[base + 2u * p.recordK + e] = bitcast<u32>(probs[e]); }
}
