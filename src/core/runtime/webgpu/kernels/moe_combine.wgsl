// Prefill: y[t, n] += Σ_slot yExpert[t*slots + slot, n] (slot order = highest weight first,
// as the reference sums). A slot a top-p token leaves unused (id NO_EXPERT in the routing
// record) was never written by moe_down_grouped, so it is skipped. Grid: (ceil(N/64), nTokens).
const NO_EXPERT: u32 = 0xffffffffu;

struct Params {
  N: u32,
  nTokens: u32,
  slots: u32,
  yOffset: u32,
  yStride: u32,
  routeBase: u32,    // index of token 0's expertIds[0]
  routeStride: u32,  // words between tokens' records
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> yExpert: array<f32>;   // [nTokens*slots, N]
@group(0) @binding(2) var<storage, read> route: array<u32>;     // routing records
@group(0) @binding(3) var<storage, read_write> y: array<f32>;   // [nTokens, yStride] residual

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let t = gid.y;
  if (n >= p.N || t >= p.nTokens) { return; }
  var sum = 0.0;
  let record = p.routeBase + t * p.routeStride;
  for (var slot = 0u; slot < p.slots; slot++) {
    if (route[record + slot] == NO_EXPERT) { continue; }
    sum += yExpert[(t * p.slots + slot) * p.N + n];
  }
  let yi = p.yOffset + t * p.yStride + n;
  y[yi] = y[yi] + sum;
}
