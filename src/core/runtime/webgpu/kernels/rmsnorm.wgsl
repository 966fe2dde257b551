// RMSNorm: y[t, i] = weight[i] * x[t, i] / sqrt(mean_i(x[t, :]²) + eps).
// One workgroup of 64 per token: strided sum of squares, tree reduction, strided write.
struct Params {
  N: u32,        // vector length (hidden)
  nTokens: u32,
  xOffset: u32,
  xStride: u32,
  yOffset: u32,
  yStride: u32,
  eps: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // [nTokens, xStride]
@group(0) @binding(2) var<storage, read> weight: array<f32>;   // [N]
@group(0) @binding(3) var<storage, read_write> y: array<f32>;  // [nTokens, yStride]

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = wid.x;
  let xBase = p.xOffset + t * p.xStride;
  var sum = 0.0;
  for (var i = lid.x; i < p.N; i += 64u) { sum += x[xBase + i] * x[xBase + i]; }
  partial[lid.x] = sum;
  workgroupBarrier();
  for (var stride = 32u; stride > 0u; stride >>= 1u) {
    if (lid.x < stride) { partial[lid.x] += partial[lid.x + stride]; }
    workgroupBarrier();
  }
  let scale = inverseSqrt(partial[0] / f32(p.N) + p.eps);
  let yBase = p.yOffset + t * p.yStride;
  for (var i = lid.x; i < p.N; i += 64u) { y[yBase + i] = weight[i] * (x[xBase + i] * scale); }
}
