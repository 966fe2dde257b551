// Weight reader for bf16 matrices: each u32 word holds two bf16 values (element 2i in the
// low 16 bits); a bf16 is the top half of an f32. Row-major [rows, K]; K may be odd.
fn WEIGHT_bf16(i: u32) -> f32 {
  let word = WEIGHT[i >> 1u];
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u));
}
fn WEIGHT_load4(row: u32, k: u32, K: u32) -> vec4<f32> {  // elements k..k+3 of `row`, 0 past K
  let base = row * K + k;
  var r = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (k + j < K) { r[j] = WEIGHT_bf16(base + j); }
  }
  return r;
}
