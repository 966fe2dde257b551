// Mat-vec for decode: y[t, n] (+)= W[n, :] · x[t, :] (+ bias[n]), one invocation per output
// row and token (no token tile: the weights are read once per token). `w_dot` comes from
// the weight reader + rowdot.wgsl prepended for the matrix's dtype.
struct Params {
  N: u32,          // output rows
  K: u32,          // input length (row length of W)
  nTokens: u32,
  xOffset: u32,    // elements
  xStride: u32,    // elements between tokens of x
  yOffset: u32,
  yStride: u32,
  accumulate: u32, // 1: y += W·x
  hasBias: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;        // [N, K] in its dtype's layout
@group(0) @binding(2) var<storage, read> x: array<f32>;        // [nTokens, xStride]
@group(0) @binding(3) var<storage, read_write> y: array<f32>;  // [nTokens, yStride]
@group(0) @binding(4) var<storage, read> bias: array<f32>;     // [N] (read only when hasBias)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let t = gid.y;
  if (n >= p.N || t >= p.nTokens) { return; }
  var v = w_dot(n, p.xOffset + t * p.xStride, p.K);
  if (p.hasBias != 0u) { v += bias[n]; }
  let yi = p.yOffset + t * p.yStride + n;
  if (p.accumulate != 0u) { v += y[yi]; }
  y[yi] = v;
}
