// Dot products of one weight row with one or four activation rows, block by block: each
// block's scale multiplies the block's partial sum once. WEIGHT is the weight binding's
// reader prefix (weights_*.wgsl), ACTIVATION the activation binding's (activation.wgsl).
// No private arrays and no per-element branches: SwiftShader runs this ~5x faster.
fn WEIGHT_dot(row: u32, xBase: u32, K: u32) -> f32 {
  let blockLength = 4u * WEIGHT_QUADS;
  let blocks = K / blockLength;
  var acc = 0.0;
  var start = WEIGHT_rowStart(row, K);
  for (var b = 0u; b < blocks; b++) {
    var s = 0.0;
    let k0 = xBase + b * blockLength;
    for (var j = 0u; j < WEIGHT_QUADS; j++) {
      s += dot(WEIGHT_quadAt(start, j), ACTIVATION_load4(k0 + 4u * j));
    }
    acc += WEIGHT_scaleAt(start) * s;
    start += WEIGHT_BLOCK_STRIDE;
  }
  for (var k = blocks * blockLength; k < K; k += 4u) {  // rows that are not whole quads (f32/f16/bf16)
    acc += dot(WEIGHT_load4(row, k, K), ACTIVATION_tail4(xBase, k, K));
  }
  return acc;
}

// The same row against four activation rows starting at xBase.x/.y/.z/.w (a token tile):
// the weights are read once for the four.
fn WEIGHT_dot4(row: u32, xBase: vec4<u32>, K: u32) -> vec4<f32> {
  let blockLength = 4u * WEIGHT_QUADS;
  let blocks = K / blockLength;
  var acc = vec4<f32>(0.0);
  var start = WEIGHT_rowStart(row, K);
  for (var b = 0u; b < blocks; b++) {
    var s = vec4<f32>(0.0);
    let k0 = b * blockLength;
    for (var j = 0u; j < WEIGHT_QUADS; j++) {
      let w = WEIGHT_quadAt(start, j);
      let k = k0 + 4u * j;
      s += vec4<f32>(dot(w, ACTIVATION_load4(xBase.x + k)), dot(w, ACTIVATION_load4(xBase.y + k)),
                     dot(w, ACTIVATION_load4(xBase.z + k)), dot(w, ACTIVATION_load4(xBase.w + k)));
    }
    acc += WEIGHT_scaleAt(start) * s;
    start += WEIGHT_BLOCK_STRIDE;
  }
  for (var k = blocks * blockLength; k < K; k += 4u) {
    let w = WEIGHT_load4(row, k, K);
    acc += vec4<f32>(dot(w, ACTIVATION_tail4(xBase.x, k, K)), dot(w, ACTIVATION_tail4(xBase.y, k, K)),
                     dot(w, ACTIVATION_tail4(xBase.z, k, K)), dot(w, ACTIVATION_tail4(xBase.w, k, K)));
  }
  return acc;
}
