// Prefill: group token slots by expert, on the GPU. For expert e, lists the assignments
// a = t*slots + slot whose expertIds[t, slot] == e, in token order, and their count.
// One invocation per expert (an expert appears at most once per token, so count ≤ nTokens).
// Slots a top-p token leaves unused hold NO_EXPERT (≥ experts), so they join no list.
struct Params {
  nTokens: u32,
  slots: u32,
  experts: u32,
  routeBase: u32,
  routeStride: u32,
  listStride: u32,   // capacity of one expert's list (≥ nTokens)
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> route: array<u32>;          // routing records
@group(0) @binding(2) var<storage, read_write> groups: array<u32>;   // counts [experts], then lists [experts, listStride]

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = gid.x;
  if (e >= p.experts) { return; }
  var count = 0u;
  for (var t = 0u; t < p.nTokens; t++) {
    for (var slot = 0u; slot < p.slots; slot++) {
      if (route[p.routeBase + t * p.routeStride + slot] == e) {
        groups[p.experts + e * p.listStride + count] = t * p.slots + slot;
        count++;
      }
    }
  }
  groups[e] = count;
}
