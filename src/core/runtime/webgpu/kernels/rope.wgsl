// RoPE in place on the query rows [nTokens, qHeads*headDim] and on the new key rows of the
// layer's key cache (rows position..position+nTokens-1). Pair j of a head rotates by
// pos·theta^(−2j/headDim); cos/sin come from a table computed in f64 on the CPU.
// style 0 = 'half' (dims j, j+headDim/2), 1 = 'interleaved' (dims 2j, 2j+1).
struct Params {
  nTokens: u32,
  position: u32,   // absolute position of token 0
  headDim: u32,
  qHeads: u32,
  kvHeads: u32,
  style: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;         // [nTokens, qHeads*headDim]
@group(0) @binding(2) var<storage, read_write> keyCache: array<f32>;  // [maxContext, kvHeads*headDim]
@group(0) @binding(3) var<storage, read> cosSin: array<vec2<f32>>;    // [maxContext, headDim/2] (cos, sin)

fn rotate(v0: f32, v1: f32, cs: vec2<f32>) -> vec2<f32> {
  return vec2<f32>(v0 * cs.x - v1 * cs.y, v0 * cs.y + v1 * cs.x);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let halfDim = p.headDim / 2u;
  let pairsPerToken = (p.qHeads + p.kvHeads) * halfDim;
  let pairIndex = gid.x;
  let t = gid.y;
  if (pairIndex >= pairsPerToken || t >= p.nTokens) { return; }
  let head = pairIndex / halfDim;  // 0..qHeads-1 are query heads, then key heads
  let j = pairIndex % halfDim;
  let pos = p.position + t;
  let cs = cosSin[pos * halfDim + j];
  var i0 = j;
  var i1 = j + halfDim;
  if (p.style == 1u) { i0 = 2u * j; i1 = 2u * j + 1u; }
  if (head < p.qHeads) {
    let base = t * p.qHeads * p.headDim + head * p.headDim;
    let r = rotate(q[base + i0], q[base + i1], cs);
    q[base + i0] = r.x;
    q[base + i1] = r.y;
  } else {
    let base = pos * p.kvHeads * p.headDim + (head - p.qHeads) * p.headDim;
    let r = rotate(keyCache[base + i0], keyCache[base + i1], cs);
    keyCache[base + i0] = r.x;
    keyCache[base + i1] = r.y;
  }
}
