// Weight reader for f16 matrices without `shader-f16`: each u32 word holds two halves
// (element 2i in the low 16 bits), unpacked with unpack2x16float. Row-major [rows, K]; K may
// be odd, so a quad may start in the middle of a word. Block = one quad, scale 1 (rowdot.wgsl).
const WEIGHT_QUADS: u32 = 1u;
const WEIGHT_BLOCK_STRIDE: u32 = 4u;  // block start advances 4 elements
fn WEIGHT_rowStart(row: u32, K: u32) -> u32 { return row * K; }
fn WEIGHT_scaleAt(start: u32) -> f32 { return 1.0; }
fn WEIGHT_quadAt(start: u32, j: u32) -> vec4<f32> {  // elements start..start+3
  let wordIndex = start >> 1u;
  let a = unpack2x16float(WEIGHT[wordIndex]);
  let c = unpack2x16float(WEIGHT[wordIndex + 1u]);
  if ((start & 1u) == 0u) { return vec4<f32>(a, c); }
  let e = unpack2x16float(WEIGHT[wordIndex + 2u]);
  return vec4<f32>(a.y, c.x, c.y, e.x);
}
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
