// Causal GQA attention, pass 1: scores[t, h, j] = q[t, h] · k[j, h / (qHeads/kvHeads)] / sqrt(headDim)
// for every cached position j ≤ position + t inside the window (j > position + t − window; Mistral's
// sliding window, or window = maxContext: all of them). One invocation per (j, head, token).
struct Params {
  nTokens: u32,
  position: u32,    // absolute position of token 0
  headDim: u32,
  qHeads: u32,
  kvHeads: u32,
  maxContext: u32,  // row length of scores
  scale: f32,
  window: u32,      // positions each query sees, itself included (sliding_window, or maxContext)
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;              // [nTokens, qHeads*headDim]
@group(0) @binding(2) var<storage, read> keyCache: array<f32>;       // [maxContext, kvHeads*headDim]
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;   // [nTokens, qHeads, maxContext]

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let h = gid.y;
  let t = gid.z;
  if (t >= p.nTokens || h >= p.qHeads || j > p.position + t || j + p.window <= p.position + t) { return; }
  let kvh = h / (p.qHeads / p.kvHeads);
  let qBase = (t * p.qHeads + h) * p.headDim;
  let kBase = (j * p.kvHeads + kvh) * p.headDim;
  var sum = 0.0;
  for (var i = 0u; i < p.headDim; i++) { sum += q[qBase + i] * keyCache[kBase + i]; }
  scores[(t * p.qHeads + h) * p.maxContext + j] = sum * p.scale;
}
