// SwiGLU gate in place: gate[i] = silu(gate[i]) * up[i] over nTokens*N values.
struct Params {
  count: u32,  // nTokens * N
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> gate: array<f32>;  // [nTokens, N]
@group(0) @binding(2) var<storage, read> up: array<f32>;          // [nTokens, N]

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * 65535u * 64u + gid.x;
  if (i >= p.count) { return; }
  let g = gate[i];
  gate[i] = g / (1.0 + exp(-g)) * up[i];
}
