// Reads of an f32 activation binding named ACTIVATION (array<f32>), for rowdot.wgsl.
fn ACTIVATION_load4(i: u32) -> vec4<f32> {  // ACTIVATION[i..i+3]
  return vec4<f32>(ACTIVATION[i], ACTIVATION[i + 1u], ACTIVATION[i + 2u], ACTIVATION[i + 3u]);
}
fn ACTIVATION_tail4(base: u32, k: u32, K: u32) -> vec4<f32> {  // base+k..base+k+3, 0 past K
  var r = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (k + j < K) { r[j] = ACTIVATION[base + k + j]; } }
  return r;
}
