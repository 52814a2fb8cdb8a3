// Embedding gather: out[dstRow(j), c] = table[ids[j], c] for j < n, c < d, f32 output.
// The table may be split into row blocks (one binding each, see RowBlockedMatrix): a dispatch covers table rows
// [row0, row0 + rows) and only writes the ids that fall inside; ids ≥ vocab are written as zeros by the
// dispatch that has zeroMissing set (so no output row is left uninitialised).
// Destination rows: DST_ROWS → dst[j] (prompt splicing into arbitrary rows); else dstRow0 + j.
// Rows at or beyond outRows are skipped.
// Defines: T_F16 table array<f16> (needs F16);  T_PACKED f16 table read as u32 words;  else f32 table.
// Dispatch: one workgroup per WG·PER elements of [n, d], folded by grid().
#if F16
enable f16;
#endif
#include "common.wgsl"

struct Params {
  n: u32,
  d: u32,
  row0: u32,
  rows: u32,
  vocab: u32,
  zeroMissing: u32,
  tBase: u32,    // element offsets inside the bindings
  idsBase: u32,
  dstBase: u32,
  outBase: u32,
  dstRow0: u32,
  outRows: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
#if T_F16
@group(0) @binding(1) var<storage, read> table: array<f16>;
#else
#if T_PACKED
@group(0) @binding(1) var<storage, read> table: array<u32>;
#else
@group(0) @binding(1) var<storage, read> table: array<f32>;
#endif
#endif
@group(0) @binding(2) var<storage, read> ids: array<u32>;
#if DST_ROWS
@group(0) @binding(3) var<storage, read> dst: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#endif

override WG: u32 = 256;
const PER: u32 = 4u;

fn load_table(i: u32) -> f32 {
#if T_F16
  return f32(table[i]);
#else
#if T_PACKED
  return unpack2x16float(table[i >> 1u])[i & 1u];
#else
  return table[i];
#endif
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let e0 = flat_workgroup(wg, nwg) * WG * PER + lid;
  for (var p = 0u; p < PER; p++) {
    let e = e0 + p * WG;
    if (e >= P.n * P.d) { return; }
    let j = e / P.d;
    let c = e - j * P.d;
#if DST_ROWS
    let orow = dst[P.dstBase + j];
#else
    let orow = P.dstRow0 + j;
#endif
    if (orow >= P.outRows) { continue; }
    let id = ids[P.idsBase + j];
    let o = P.outBase + orow * P.d + c;
    if (id >= P.row0 && id < P.row0 + P.rows) {
      out[o] = load_table(P.tBase + (id - P.row0) * P.d + c);
    } else if (P.zeroMissing != 0u && id >= P.vocab) {
      out[o] = 0.0;
    }
  }
}
