// Weight reader for f32 matrices. Storage: array<u32> of IEEE f32 bits, row-major [rows, K].
// WEIGHT is replaced by the binding name of the matrix (one copy of this file per binding).
fn WEIGHT_load4(row: u32, k: u32, K: u32) -> vec4<f32> {  // elements k..k+3 of `row`, 0 past K
  let base = row * K + k;
  if (k + 4u <= K) {
    return bitcast<vec4<f32>>(vec4<u32>(WEIGHT[base], WEIGHT[base + 1u], WEIGHT[base + 2u], WEIGHT[base + 3u]));
  }
  var r = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (k + j < K) { r[j] = bitcast<f32>(WEIGHT[base + j]); }
  }
  return r;
}
