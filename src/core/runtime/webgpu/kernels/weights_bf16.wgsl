// Weight reader for bf16 matrices: each u32 word holds two bf16 values (element 2i in the
// low 16 bits); a bf16 is the top half of an f32. Row-major [rows, K]; K may be odd.
// Block = one quad, scale 1 (rowdot.wgsl).
const WEIGHT_QUADS: u32 = 1u;
const WEIGHT_BLOCK_STRIDE: u32 = 4u;  // block start advances 4 elements
fn WEIGHT_rowStart(row: u32, K: u32) -> u32 { return row * K; }
fn WEIGHT_scaleAt(start: u32) -> f32 { return 1.0; }
fn WEIGHT_pair(word: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<f32>(word << 16u), bitcast<f32>(word & 0xffff0000u));
}
fn WEIGHT_quadAt(start: u32, j: u32) -> vec4<f32> {  // elements start..start+3
  let wordIndex = start >> 1u;
  let a = WEIGHT_pair(WEIGHT[wordIndex]);
  let c = WEIGHT_pair(WEIGHT[wordIndex + 1u]);
  if ((start & 1u) == 0u) { return vec4<f32>(a, c); }
  let e = WEIGHT_pair(WEIGHT[wordIndex + 2u]);
  return vec4<f32>(a.y, c.x, c.y, e.x);
}
fn WEIGHT_load4(row: u32, k: u32, K: u32) -> vec4<f32> {  // elements k..k+3 of `row`, 0 past K
  let base = row * K + k;
  var r = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (k + j < K) {
      let pair = WEIGHT_pair(WEIGHT[(base + j) >> 1u]);
      r[j] = select(pair.x, pair.y, ((base + j) & 1u) == 1u);
    }
  }
  return r;
}
