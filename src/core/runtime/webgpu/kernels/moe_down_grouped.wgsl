// Prefill expert dispatch, grouped by expert, second half: for the assignments
// a = t*slots + slot routed to expert e, yExpert[a, n] = expertWeights[t, slot] * (down_e[n] · h[a]).
// The slots are summed into the residual by moe_combine. The reader `wDown_load4` is
// prepended. Grid: (ceil(N/64), experts, ceil(nTokens/TILE_A)).
const TILE_A: u32 = 4u;

struct Params {
  N: u32,             // hidden
  K: u32,             // expert intermediate
  slots: u32,
  experts: u32,
  listStride: u32,
  routeBase: u32,
  routeStride: u32,
  weightOffset: u32,  // expertWeights[slot] at the record's ids + weightOffset
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> wDown: array<u32>;          // [experts*N, K]
@group(0) @binding(2) var<storage, read> h: array<f32>;              // [nTokens*slots, K]
@group(0) @binding(3) var<storage, read> groups: array<u32>;         // from moe_group
@group(0) @binding(4) var<storage, read> route: array<u32>;          // routing records
@group(0) @binding(5) var<storage, read_write> yExpert: array<f32>;  // [nTokens*slots, N]

fn loadH4(base: u32, k: u32) -> vec4<f32> {
  if (k + 4u <= p.K) { return vec4<f32>(h[base + k], h[base + k + 1u], h[base + k + 2u], h[base + k + 3u]); }
  var r = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (k + j < p.K) { r[j] = h[base + k + j]; } }
  return r;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let e = gid.y;
  let first = gid.z * TILE_A;
  if (n >= p.N || e >= p.experts || first >= groups[e]) { return; }
  let m = min(TILE_A, groups[e] - first);
  var assignment: array<u32, 4>;
  for (var j = 0u; j < m; j++) { assignment[j] = groups[p.experts + e * p.listStride + first + j]; }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  let row = e * p.N + n;
  for (var k = 0u; k < p.K; k += 4u) {
    let w = wDown_load4(row, k, p.K);
    for (var j = 0u; j < m; j++) { acc[j] += dot(w, loadH4(assignment[j] * p.K, k)); }
  }
  for (var j = 0u; j < m; j++) {
    let a = assignment[j];
    let record = p.routeBase + (a / p.slots) * p.routeStride;
    let mixWeight = bitcast<f32>(route[record + p.weightOffset + a % p.slots]);
    yExpert[a * p.N + n] = mixWeight * acc[j];
  }
}
