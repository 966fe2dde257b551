// Qwen3's q/k norm, in place, before RoPE: every head of the query rows [nTokens, qHeads*headDim]
// and of the new key rows of the layer's key cache (rows position..position+nTokens-1) becomes
// weight ⊙ v / sqrt(mean(v²) + eps), with qNorm [headDim] for query heads and kNorm for key heads.
// One workgroup of 64 per (head, token): strided sum of squares, tree reduction, strided write.
struct Params {
  nTokens: u32,
  position: u32,   // absolute position of token 0
  headDim: u32,
  qHeads: u32,
  kvHeads: u32,
  eps: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;         // [nTokens, qHeads*headDim]
@group(0) @binding(2) var<storage, read_write> keyCache: array<f32>;  // [maxContext, kvHeads*headDim]
@group(0) @binding(3) var<storage, read> qNorm: array<f32>;           // [headDim]
@group(0) @binding(4) var<storage, read> kNorm: array<f32>;           // [headDim]

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let head = wid.x;  // 0..qHeads-1 are query heads, then key heads
  let t = wid.y;
  let isKey = head >= p.qHeads;
  var base = t * p.qHeads * p.headDim + head * p.headDim;
  if (isKey) { base = (p.position + t) * p.kvHeads * p.headDim + (head - p.qHeads) * p.headDim; }
  var sum = 0.0;
  for (var i = lid.x; i < p.headDim; i += 64u) {
    var v = 0.0;
    if (isKey) { v = keyCache[base + i]; } else { v = q[base + i]; }
    sum += v * v;
  }
  partial[lid.x] = sum;
  workgroupBarrier();
  for (var stride = 32u; stride > 0u; stride >>= 1u) {
    if (lid.x < stride) { partial[lid.x] += partial[lid.x + stride]; }
    workgroupBarrier();
  }
  let scale = inverseSqrt(partial[0] / f32(p.headDim) + p.eps);
  for (var i = lid.x; i < p.headDim; i += 64u) {
    if (isKey) {
      keyCache[base + i] = kNorm[i] * (keyCache[base + i] * scale);
    } else {
      q[base + i] = qNorm[i] * (q[base + i] * scale);
    }
  }
}
