// Weight reader for q4_0 matrices in ggml's block layout, uploaded byte for byte (no repack):
// each row of K elements is K/32 blocks of 18 bytes = f16 scale d + 16 bytes of nibbles;
// byte j holds element j (low nibble) and element 16 + j (high nibble); w = (q - 8) * d.
// Block interface (rowdot.wgsl): 8 quads per block share the scale d; quad j < 4 is the
// low nibbles of bytes 4j..4j+3, quad j ≥ 4 the high nibbles of bytes 4(j-4)..4(j-4)+3.
const WEIGHT_QUADS: u32 = 8u;
fn WEIGHT_u32At(byteOffset: u32) -> u32 {  // byteOffset is even
  let wordIndex = byteOffset >> 2u;
  if ((byteOffset & 2u) == 0u) { return WEIGHT[wordIndex]; }
  return (WEIGHT[wordIndex] >> 16u) | (WEIGHT[wordIndex + 1u] << 16u);
}
const WEIGHT_BLOCK_STRIDE: u32 = 18u;  // block start advances 18 bytes
fn WEIGHT_rowStart(row: u32, K: u32) -> u32 { return row * (K / 32u) * 18u; }
fn WEIGHT_scaleAt(start: u32) -> f32 { return unpack2x16float(WEIGHT_u32At(start)).x; }
fn WEIGHT_quadAt(start: u32, j: u32) -> vec4<f32> {  // q - 8 of elements 4j..4j+3 of the block
  let q = WEIGHT_u32At(start + 2u + 4u * (j & 3u)) >> (4u * (j >> 2u));
  return vec4<f32>(vec4<u32>(q & 15u, (q >> 8u) & 15u, (q >> 16u) & 15u, (q >> 24u) & 15u)) - 8.0;
}
fn WEIGHT_load4(row: u32, k: u32, K: u32) -> vec4<f32> {  // elements k..k+3 of `row` (K % 32 == 0)
  let start = WEIGHT_rowStart(row, K) + (k / 32u) * 18u;
  return WEIGHT_scaleAt(start) * WEIGHT_quadAt(start, (k % 32u) / 4u);
}
