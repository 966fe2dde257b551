// Token embedding gather: x[t, :] = table[tokenIds[t], :] (dequantized to f32).
// One invocation per 4 consecutive dims of one token. The reader `table_load4` is prepended.
// A table past the binding limit is split by rows (upload.ts): one dispatch per part, each
// writing the tokens whose id falls in its rows [row0, row0 + rows).
struct Params {
  hidden: u32,
  nTokens: u32,
  row0: u32,
  rows: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<u32>;       // [rows, hidden] in its dtype's layout
@group(0) @binding(2) var<storage, read> tokenIds: array<u32>;    // [nTokens]
@group(0) @binding(3) var<storage, read_write> x: array<f32>;     // [nTokens, hidden]

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x * 4u;
  let t = gid.y;
  if (k >= p.hidden || t >= p.nTokens) { return; }
  let id = tokenIds[t];
  if (id < p.row0 || id - p.row0 >= p.rows) { return; }
  let v = table_load4(id - p.row0, k, p.hidden);
  for (var j = 0u; j < 4u; j++) {
    if (k + j < p.hidden) { x[t * p.hidden + k + j] = v[j]; }
  }
}
