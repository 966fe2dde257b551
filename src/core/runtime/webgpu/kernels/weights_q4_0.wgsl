// Weight reader for q4_0 matrices in ggml's block layout, uploaded byte for byte (no repack):
// each row of K elements is K/32 blocks of 18 bytes = f16 scale d + 16 bytes of nibbles;
// byte j holds element j (low nibble) and element 16 + j (high nibble); w = (q - 8) * d.
fn WEIGHT_u32At(byteOffset: u32) -> u32 {  // byteOffset is even
  let wordIndex = byteOffset >> 2u;
  if ((byteOffset & 2u) == 0u) { return WEIGHT[wordIndex]; }
  return (WEIGHT[wordIndex] >> 16u) | (WEIGHT[wordIndex + 1u] << 16u);
}
fn WEIGHT_load4(row: u32, k: u32, K: u32) -> vec4<f32> {  // elements k..k+3 of `row` (K % 32 == 0)
  let block = row * (K / 32u) + k / 32u;
  let blockByte = block * 18u;
  let d = unpack2x16float(WEIGHT_u32At(blockByte)).x;
  let inBlock = k % 32u;
  let shift = (inBlock / 16u) * 4u;
  let q = WEIGHT_u32At(blockByte + 2u + (inBlock % 16u)) >> shift;
  let qs = vec4<u32>(q & 15u, (q >> 8u) & 15u, (q >> 16u) & 15u, (q >> 24u) & 15u);
  return (vec4<f32>(qs) - 8.0) * d;
}
