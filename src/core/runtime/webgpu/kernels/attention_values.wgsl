// Causal GQA attention, pass 2: out[t, h, d] = Σ_j softmax_j(scores[t, h, :]) · v[j, kvh, d]
// over j ≤ position + t. One invocation per (d, head, token); each recomputes the row's
// max and sum (O(positions)), which keeps the kernel barrier-free.
struct Params {
  nTokens: u32,
  position: u32,
  headDim: u32,
  qHeads: u32,
  kvHeads: u32,
  maxContext: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;       // [nTokens, qHeads, maxContext]
@group(0) @binding(2) var<storage, read> valueCache: array<f32>;   // [maxContext, kvHeads*headDim]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;    // [nTokens, qHeads*headDim]

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let d = gid.x;
  let h = gid.y;
  let t = gid.z;
  if (t >= p.nTokens || h >= p.qHeads || d >= p.headDim) { return; }
  let kvh = h / (p.qHeads / p.kvHeads);
  let row = (t * p.qHeads + h) * p.maxContext;
  let count = p.position + t + 1u;
  var maxScore = scores[row];
  for (var j = 1u; j < count; j++) { maxScore = max(maxScore, scores[row + j]); }
  var sum = 0.0;
  var acc = 0.0;
  for (var j = 0u; j < count; j++) {
    let e = exp(scores[row + j] - maxScore);
    sum += e;
    acc += e * valueCache[(j * p.kvHeads + kvh) * p.headDim + d];
  }
  out[(t * p.qHeads + h) * p.headDim + d] = acc / sum;
}
