// Prefill expert dispatch, grouped by expert, second half: for the assignments
// a = t*slots + slot routed to expert e, yExpert[a, n] = expertWeights[t, slot] * (down_e[n] · h[a]).
// The slots are summed into the residual by moe_combine. The reader + rowdot (`wDown_dot4`
// over h) are prepended. Grid: (ceil(partRows/64), partExperts, ceil(nTokens/4)).
struct Params {
  N: u32,             // hidden
  K: u32,             // expert intermediate
  slots: u32,
  experts: u32,
  listStride: u32,
  routeBase: u32,
  routeStride: u32,
  weightOffset: u32,  // expertWeights[slot] at the record's ids + weightOffset
  expert0: u32,       // a split stack's part (upload.ts): experts [expert0, expert0 + partExperts)
  partExperts: u32,
  row0: u32,          // and rows [row0, row0 + partRows) of each
  partRows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> wDown: array<u32>;          // [experts*N, K]
@group(0) @binding(2) var<storage, read> h: array<f32>;              // [nTokens*slots, K]
@group(0) @binding(3) var<storage, read> groups: array<u32>;         // from moe_group
@group(0) @binding(4) var<storage, read> route: array<u32>;          // routing records
@group(0) @binding(5) var<storage, read_write> yExpert: array<f32>;  // [nTokens*slots, N]

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
  let sums = wDown_dot4(gid.y * p.partRows + gid.x, assignments * p.K, p.K);
  for (var j = 0u; j < 4u; j++) {
    if (first + j >= groups[e]) { break; }
    let a = assignments[j];
    let record = p.routeBase + (a / p.slots) * p.routeStride;
    let mixWeight = bitcast<f32>(route[record + p.weightOffset + a % p.slots]);
    yExpert[a * p.N + n] = mixWeight * sums[j];
  }
}
