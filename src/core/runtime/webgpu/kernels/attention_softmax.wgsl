// Causal GQA attention, pass 2: softmax in place over scores[t, h, first..position+t], first the
// window's start (0 without a sliding window).
// One invocation per (head, token): max, exp and sum once per row, not once per output dim.
struct Params {
  nTokens: u32,
  position: u32,    // absolute position of token 0
  qHeads: u32,
  maxContext: u32,  // row length of scores
  window: u32,      // positions each query sees, itself included (sliding_window, or maxContext)
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> scores: array<f32>;   // [nTokens, qHeads, maxContext]

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let h = gid.x;
  let t = gid.y;
  if (h >= p.qHeads || t >= p.nTokens) { return; }
  let row = (t * p.qHeads + h) * p.maxContext;
  let count = p.position + t + 1u;
  let first = select(0u, count - p.window, count > p.window);
  var maxScore = scores[row + first];
  for (var j = first + 1u; j < count; j++) { maxScore = max(maxScore, scores[row + j]); }
  var sum = 0.0;
  for (var j = first; j < count; j++) {
    let e = exp(scores[row + j] - maxScore);
    scores[row + j] = e;
    sum += e;
  }
  let inverse = 1.0 / sum;
  for (var j = first; j < count; j++) { scores[row + j] *= inverse; }
}
