// Weight reader for f16 matrices without `shader-f16`: each u32 word holds two halves
// (element 2i in the low 16 bits); unpacked with unpack2x16float. Row-major [rows, K];
// K may be odd, so a row may start in the middle of a word.
fn WEIGHT_half(i: u32) -> f32 {
  let pair = unpack2x16float(WEIGHT[i >> 1u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}
fn WEIGHT_load4(row: u32, k: u32, K: u32) -> vec4<f32> {  // elements k..k+3 of `row`, 0 past K
  let base = row * K + k;
  var r = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (k + j < K) { r[j] = WEIGHT_half(base + j); }
  }
  return r;
}
