// Causal GQA attention, pass 3: out[t, h, d] = Σ_j probs[t, h, j] · v[j, h / (qHeads/kvHeads), d]
// over the window's positions first ≤ j ≤ position + t (probs from attention_softmax). One
// invocation per (d, head, token).
struct Params {
  nTokens: u32,
  position: u32,
  headDim: u32,
  qHeads: u32,
  kvHeads: u32,
  maxContext: u32,
  window: u32,      // positions each query sees, itself included (sliding_window, or maxContext)
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;        // [nTokens, qHeads, maxContext]
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
  let first = select(0u, count - p.window, count > p.window);
  let vStride = p.kvHeads * p.headDim;
  var acc = 0.0;
  var v = (first * p.kvHeads + kvh) * p.headDim + d;
  for (var j = first; j < count; j++) {
    acc += probs[row + j] * valueCache[v];
    v += vStride;
  }
  out[(t * p.qHeads + h) * p.headDim + d] = acc;
}
