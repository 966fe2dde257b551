// Tiled mat-mul for prefill: y[t, n] (+)= W[n, :] · x[t, :] (+ bias[n]) (+ y[t, n]).
// One invocation computes one output row n for a tile of 4 tokens (`w_dot4`), so each
// weight row is read once per 4 tokens. Tokens past the end repeat the last one and are
// not written. The weight reader + rowdot.wgsl are prepended for the matrix's dtype.
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
  let t0 = gid.y * 4u;
  if (n >= p.N || t0 >= p.nTokens) { return; }
  let last = p.nTokens - 1u;
  let tokens = vec4<u32>(t0, min(t0 + 1u, last), min(t0 + 2u, last), min(t0 + 3u, last));
  var v = w_dot4(n, p.xOffset + tokens * p.xStride, p.K);
  if (p.hasBias != 0u) { v += vec4<f32>(bias[n]); }
  for (var j = 0u; j < 4u; j++) {
    let t = t0 + j;
    if (t >= p.nTokens) { break; }
    let yi = p.yOffset + t * p.yStride + n;
    var out = v[j];
    if (p.accumulate != 0u) { out += y[yi]; }
    y[yi] = out;
  }
}
