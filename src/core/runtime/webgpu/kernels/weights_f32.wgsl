// Weight reader for f32 matrices. Storage: array<u32> of IEEE f32 bits, row-major [rows, K].
// WEIGHT is replaced by the binding name of the matrix (one copy of this file per binding).
// Block interface (see rowdot.wgsl): a block is WEIGHT_QUADS quads of 4 elements sharing one
// scale; here a block is one quad with scale 1, and rows need not be whole quads (tail: load4).
const WEIGHT_QUADS: u32 = 1u;
const WEIGHT_BLOCK_STRIDE: u32 = 4u;  // block start advances 4 elements
fn WEIGHT_rowStart(row: u32, K: u32) -> u32 { return row * K; }
fn WEIGHT_scaleAt(start: u32) -> f32 { return 1.0; }
fn WEIGHT_quadAt(start: u32, j: u32) -> vec4<f32> {  // elements start..start+3
  return bitcast<vec4<f32>>(vec4<u32>(WEIGHT[start], WEIGHT[start + 1u], WEIGHT[start + 2u], WEIGHT[start + 3u]));
}
fn WEIGHT_load4(row: u32, k: u32, K: u32) -> vec4<f32> {  // elements k..k+3 of `row`, 0 past K
  let base = row * K + k;
  var r = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (k + j < K) { r[j] = bitcast<f32>(WEIGHT[base + j]); }
  }
  return r;
}
