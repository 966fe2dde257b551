// Qwen2-MoE shared expert gate: writes the routing record's shared slot
// (id 0, weight sigmoid(sharedGate · x[t]), or weight 1 when the shared expert is ungated),
// so the shared expert runs through the same expert kernels as a 1-slot route.
// The reader + rowdot (`gateW_dot`) are prepended. One invocation per token.
struct Params {
  hidden: u32,
  nTokens: u32,
  gated: u32,
  xOffset: u32,
  xStride: u32,
  sharedBase: u32,   // routeBase + 2k + E: the shared slot of token 0
  routeStride: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gateW: array<u32>;        // [1, hidden] in its dtype's layout
@group(0) @binding(2) var<storage, read> x: array<f32>;            // [nTokens, xStride]
@group(0) @binding(3) var<storage, read_write> route: array<u32>;  // routing records

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  if (t >= p.nTokens) { return; }
  var gate = 1.0;
  if (p.gated != 0u) {
    let sum = gateW_dot(0u, p.xOffset + t * p.xStride, p.hidden);
    gate = 1.0 / (1.0 + exp(-sum));
  }
  let base = p.sharedBase + t * p.routeStride;
  route[base] = 0u;
  route[base + 1u] = bitcast<u32>(gate);
}
