// Prefill expert dispatch, grouped by expert: for the assignments a = t*slots + slot routed
// to expert e (from moe_group), h[a, n] = silu(gate_e[n] · x[t]) * (up_e[n] · x[t]).
// Each invocation handles one row n of one expert for a tile of 4 assignments (`*_dot4`),
// so an expert's rows are read once per tile instead of once per token. Readers + rowdot
// for wGate and wUp are prepended. Grid: (ceil(partRows/64), partExperts, ceil(nTokens/4)).
struct Params {
  N: u32,            // expert intermediate
  K: u32,            // hidden
  slots: u32,
  experts: u32,
  xOffset: u32,
  xStride: u32,
  listStride: u32,
  expert0: u32,      // a split stack's part (upload.ts): experts [expert0, expert0 + partExperts)
  partExperts: u32,
  row0: u32,         // and rows [row0, row0 + partRows) of each
  partRows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> wGate: array<u32>;     // [experts*N, K]
@group(0) @binding(2) var<storage, read> wUp: array<u32>;       // [experts*N, K]
@group(0) @binding(3) var<storage, read> x: array<f32>;         // [nTokens, xStride]
@group(0) @binding(4) var<storage, read> groups: array<u32>;    // from moe_group
@group(0) @binding(5) var<storage, read_write> h: array<f32>;   // [nTokens*slots, N]

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let first = gid.z * 4u;
  if (gid.x >= p.partRows || gid.y >= p.partExperts) { return; }
  let n = p.row0 + gid.x;
  let e = p.expert0 + gid.y;
  if (e >= p.experts || first >= groups[e]) { return; }
  let list = p.experts + e * p.listStride;
  let last = list + groups[e] - 1u;
  let assignments = vec4<u32>(groups[list + first], groups[min(list + first + 1u, last)],
                              groups[min(list + first + 2u, last)], groups[min(list + first + 3u, last)]);
  let xBase = p.xOffset + (assignments / p.slots) * p.xStride;
  let row = gid.y * p.partRows + gid.x;
  let g = wGate_dot4(row, xBase, p.K);
  let u = wUp_dot4(row, xBase, p.K);
  let out = g / (1.0 + exp(-g)) * u;
  for (var j = 0u; j < 4u; j++) {
    if (first + j >= groups[e]) { break; }
    h[assignments[j] * p.N + n] = out[j];
  }
}
