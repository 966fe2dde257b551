// Tiled mat-mul for decode (nTokens = 1: a mat-vec) and prefill: y[t, n] = W[n, :] · x[t, :]
// (+ bias[n]) (+ y[t, n] when accumulating into the residual stream).
// One invocation computes one output row n for a tile of TILE_T tokens, so each weight
// row is read once per TILE_T tokens. The weight reader (`w_load4`) is prepended per dtype.
const TILE_T: u32 = 4u;

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

fn loadX4(base: u32, k: u32) -> vec4<f32> {
  if (k + 4u <= p.K) { return vec4<f32>(x[base + k], x[base + k + 1u], x[base + k + 2u], x[base + k + 3u]); }
  var r = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (k + j < p.K) { r[j] = x[base + k + j]; } }
  return r;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let t0 = gid.y * TILE_T;
  if (n >= p.N || t0 >= p.nTokens) { return; }
  let tileTokens = min(TILE_T, p.nTokens - t0);
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var k = 0u; k < p.K; k += 4u) {
    let wk = w_load4(n, k, p.K);
    for (var t = 0u; t < tileTokens; t++) {
      acc[t] += dot(wk, loadX4(p.xOffset + (t0 + t) * p.xStride, k));
    }
  }
  for (var t = 0u; t < tileTokens; t++) {
    let yi = p.yOffset + (t0 + t) * p.yStride + n;
    var v = acc[t];
    if (p.hasBias != 0u) { v += bias[n]; }
    if (p.accumulate != 0u) { v += y[yi]; }
    y[yi] = v;
  }
}
