// Weight reader for q8_0 matrices in ggml's block layout, uploaded byte for byte (no repack):
// each row of K elements is K/32 blocks of 34 bytes = f16 scale d + 32 x i8 q; w = q * d.
// Blocks are 2-byte aligned only, so 32-bit reads at an even byte offset splice two words.
fn WEIGHT_u32At(byteOffset: u32) -> u32 {  // byteOffset is even
  let wordIndex = byteOffset >> 2u;
  if ((byteOffset & 2u) == 0u) { return WEIGHT[wordIndex]; }
  return (WEIGHT[wordIndex] >> 16u) | (WEIGHT[wordIndex + 1u] << 16u);
}
fn WEIGHT_load4(row: u32, k: u32, K: u32) -> vec4<f32> {  // elements k..k+3 of `row` (K % 32 == 0)
  let block = row * (K / 32u) + k / 32u;
  let blockByte = block * 34u;
  let d = unpack2x16float(WEIGHT_u32At(blockByte)).x;
  let q = bitcast<i32>(WEIGHT_u32At(blockByte + 2u + (k % 32u)));
  let qs = vec4<i32>(extractBits(q, 0u, 8u), extractBits(q, 8u, 8u), extractBits(q, 16u, 8u), extractBits(q, 24u, 8u));
  return vec4<f32>(qs) * d;
}
