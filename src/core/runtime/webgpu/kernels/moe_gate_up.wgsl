// Expert dispatch, first half: h[t, slot, n] = silu(gate_e[n] · x[t]) * (up_e[n] · x[t]) with
// e = expertIds[t, slot] read from the routing record on the GPU. Only the chosen experts'
// rows are read. Expert e's rows start at row e*N of the layer's stacked [experts*N, K]
// weights. Readers + rowdot (`wGate_dot`, `wUp_dot`) are prepended. A slot a top-p token
// leaves unused (id NO_EXPERT, router_topk.wgsl) is skipped: its h row is never read.
// A stack past the binding limit is split (upload.ts): a part holds rows [row0, row0 +
// partRows) of experts [expert0, expertEnd), expert-major; one dispatch per part, each
// skipping the slots routed outside it. Grid: (ceil(partRows/64), slots, nTokens).
const NO_EXPERT: u32 = 0xffffffffu;

struct Params {
  N: u32,            // expert intermediate size
  K: u32,            // hidden
  nTokens: u32,
  slots: u32,        // k (or 1 for the shared expert)
  xOffset: u32,
  xStride: u32,
  routeBase: u32,    // index of token 0's expertIds[0]
  routeStride: u32,  // words between tokens' records
  expert0: u32,      // first expert of this part
  expertEnd: u32,    // one past its last
  row0: u32,         // first row (of N) of each expert in this part
  partRows: u32,     // rows of each expert in this part
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> wGate: array<u32>;     // [partExperts*partRows, K]
@group(0) @binding(2) var<storage, read> wUp: array<u32>;       // [partExperts*partRows, K]
@group(0) @binding(3) var<storage, read> x: array<f32>;         // [nTokens, xStride]
@group(0) @binding(4) var<storage, read> route: array<u32>;     // routing records
@group(0) @binding(5) var<storage, read_write> h: array<f32>;   // [nTokens, slots, N]

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let slot = gid.y;
  let t = gid.z;
  if (gid.x >= p.partRows || slot >= p.slots || t >= p.nTokens) { return; }
  let n = p.row0 + gid.x;
  let expert = route[p.routeBase + t * p.routeStride + slot];
  if (expert == NO_EXPERT || expert < p.expert0 || expert >= p.expertEnd) { return; }
  let row = (expert - p.expert0) * p.partRows + gid.x;
  let xBase = p.xOffset + t * p.xStride;
  let g = wGate_dot(row, xBase, p.K);
  let u = wUp_dot(row, xBase, p.K);
  h[(t * p.slots + slot) * p.N + n] = g / (1.0 + exp(-g)) * u;
}
