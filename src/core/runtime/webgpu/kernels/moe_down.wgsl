// Expert dispatch, second half, fused with the mix and the residual add:
// y[t, n] += Σ_slot expertWeights[t, slot] * (down_e[n] · h[t, slot]) with e = expertIds[t, slot]
// read from the routing record. Only chosen experts' rows are read. The reader +
// rowdot (`wDown_dot` over h) are prepended. Slots a top-p token leaves unused (id NO_EXPERT)
// are skipped. A split stack (upload.ts) runs one dispatch per part, each adding the slots
// routed to its experts for its rows. Grid: (ceil(partRows/64), nTokens).
const NO_EXPERT: u32 = 0xffffffffu;

struct Params {
  N: u32,             // hidden
  K: u32,             // expert intermediate size
  nTokens: u32,
  slots: u32,
  routeBase: u32,     // index of token 0's expertIds[0]
  routeStride: u32,
  weightOffset: u32,  // expertWeights[slot] is at expertIds[slot] + weightOffset (k, or 1 for shared)
  yOffset: u32,
  yStride: u32,
  expert0: u32,       // this part's experts [expert0, expertEnd) and rows [row0, row0 + partRows)
  expertEnd: u32,
  row0: u32,
  partRows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> wDown: array<u32>;     // [partExperts*partRows, K]
@group(0) @binding(2) var<storage, read> h: array<f32>;         // [nTokens, slots, K]
@group(0) @binding(3) var<storage, read> route: array<u32>;     // routing records
@group(0) @binding(4) var<storage, read_write> y: array<f32>;   // [nTokens, yStride] residual

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y;
  if (gid.x >= p.partRows || t >= p.nTokens) { return; }
  let n = p.row0 + gid.x;
  let record = p.routeBase + t * p.routeStride;
  var acc = 0.0;
  for (var slot = 0u; slot < p.slots; slot++) {
    let expert = route[record + slot];
    if (expert == NO_EXPERT || expert < p.expert0 || expert >= p.expertEnd) { continue; }
    let mixWeight = bitcast<f32>(route[record + p.weightOffset + slot]);
    let row = (expert - p.expert0) * p.partRows + gid.x;
    let sum = wDown_dot(row, (t * p.slots + slot) * p.K, p.K);
    acc += mixWeight * sum;
  }
  let yi = p.yOffset + t * p.yStride + n;
  y[yi] = y[yi] + acc;
}
