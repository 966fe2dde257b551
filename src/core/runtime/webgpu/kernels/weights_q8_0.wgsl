// Weight reader for q8_0 matrices in ggml's block layout, uploaded byte for byte (no repack):
// each row of K elements is K/32 blocks of 34 bytes = f16 scale d + 32 x i8 q; w = q * d.
// Blocks are 2-byte aligned only, so 32-bit reads at an even byte offset splice two words.
// Block interface (rowdot.wgsl): 8 quads per block share the scale d.
const WEIGHT_QUADS: u32 = 8u;
fn WEIGHT_u32At(byteOffset: u32) -> u32 {  // byteOffset is even
  let wordIndex = byteOffset >> 2u;
  if ((byteOffset & 2u) == 0u) { return WEIGHT[wordIndex]; }
  return (WEIGHT[wordIndex] >> 16u) | (WEIGHT[wordIndex + 1u] << 16u);
}
const WEIGHT_BLOCK_STRIDE: u32 = 34u;  // block start advances 34 bytes
fn WEIGHT_rowStart(row: u32, K: u32) -> u32 { return row * (K / 32u) * 34u; }
fn WEIGHT_scaleAt(start: u32) -> f32 { return unpack2x16float(WEIGHT_u32At(start)).x; }
fn WEIGHT_quadAt(start: u32, j: u32) -> vec4<f32> {  // q of elements 4j..4j+3 of the block (unscaled)
  let q = bitcast<i32>(WEIGHT_u32At(start + 2u + 4u * j));
  return vec4<f32>(vec4<i32>(extractBits(q, 0u, 8u), extractBits(q, 8u, 8u), extractBits(q, 16u, 8u), extractBits(q, 24u, 8u)));
}
fn WEIGHT_load4(row: u32, k: u32, K: u32) -> vec4<f32> {  // elements k..k+3 of `row` (K % 32 == 0)
  let start = WEIGHT_rowStart(row, K) + (k / 32u) * 34u;
  return WEIGHT_scaleAt(start) * WEIGHT_quadAt(start, (k % 32u) / 4u);
}
