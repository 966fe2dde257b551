// Prefill expert dispatch, grouped by expert: for the assignments a = t*slots + slot routed
// to expert e (from moe_group), h[a, n] = silu(gate_e[n] · x[t]) * (up_e[n] · x[t]).
// Each invocation handles one row n of one expert for a tile of TILE_A assignments, so an
// expert's rows are read once per tile instead of once per token. Readers `wGate_load4`,
// `wUp_load4` are prepended. Grid: (ceil(N/64), experts, ceil(nTokens/TILE_A)).
const TILE_A: u32 = 4u;

struct Params {
  N: u32,            // expert intermediate
  K: u32,            // hidden
  slots: u32,
  experts: u32,
  xOffset: u32,
  xStride: u32,
  listStride: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> wGate: array<u32>;     // [experts*N, K]
@group(0) @binding(2) var<storage, read> wUp: array<u32>;       // [experts*N, K]
@group(0) @binding(3) var<storage, read> x: array<f32>;         // [nTokens, xStride]
@group(0) @binding(4) var<storage, read> groups: array<u32>;    // from moe_group
@group(0) @binding(5) var<storage, read_write> h: array<f32>;   // [nTokens*slots, N]

fn loadX4(base: u32, k: u32) -> vec4<f32> {
  if (k + 4u <= p.K) { return vec4<f32>(x[base + k], x[base + k + 1u], x[base + k + 2u], x[base + k + 3u]); }
  var r = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (k + j < p.K) { r[j] = x[base + k + j]; } }
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
  var xBase: array<u32, 4>;
  for (var j = 0u; j < m; j++) {
    assignment[j] = groups[p.experts + e * p.listStride + first + j];
    xBase[j] = p.xOffset + (assignment[j] / p.slots) * p.xStride;
  }
  var g = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  var u = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  let row = e * p.N + n;
  for (var k = 0u; k < p.K; k += 4u) {
    let wg = wGate_load4(row, k, p.K);
    let wu = wUp_load4(row, k, p.K);
    for (var j = 0u; j < m; j++) {
      let xv = loadX4(xBase[j], k);
      g[j] += dot(wg, xv);
      u[j] += dot(wu, xv);
    }
  }
  for (var j = 0u; j < m; j++) { h[assignment[j] * p.N + n] = g[j] / (1.0 + exp(-g[j])) * u[j]; }
}
