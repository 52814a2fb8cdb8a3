// Embedding gather from an INT8 table (src/ops/matmul-int8.ts `embedInt8`): out[dstRow0 + j, c] =
// q[ids[j], c] · s[ids[j], ⌊c / G⌋] for j < n, c < d. The table is one row block of an Int8Matrix: int8 rows of
// ldt words (4 per u32, byte 0 first) and f32 scales [rows, groups]. A dispatch covers table rows
// [row0, row0 + rows) and writes only the ids inside; ids ≥ vocab are written as zeros by the dispatch that has
// zeroMissing set. Rows at or beyond outRows are skipped.
// INT4 (src/ops/matmul-int4.ts `Int4Matrix`): the rows hold 4-bit codes, 8 per word (nibble 0 first, q = code − 8),
// and S holds f16 pairs; sBase and groups are then in halves (groups = the scale row stride).
// Dispatch: one workgroup per WG·PER elements of [n, d], folded by grid().
#include "common.wgsl"

struct Params {
  n: u32,
  d: u32,
  row0: u32,
  rows: u32,
  vocab: u32,
  zeroMissing: u32,
  tBase: u32,    // word offset of the block's row 0 in the T binding
  sBase: u32,    // element offset of the block's scale row 0 in the S binding
  idsBase: u32,
  outBase: u32,
  dstRow0: u32,
  outRows: u32,
  ldt: u32,      // words per table row
  groups: u32,   // scale row stride
  G: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> T: array<u32>;
#if INT4
@group(0) @binding(2) var<storage, read> S: array<u32>;
fn scale(i: u32) -> f32 { return unpack2x16float(S[i >> 1u])[i & 1u]; }
#else
@group(0) @binding(2) var<storage, read> S: array<f32>;
fn scale(i: u32) -> f32 { return S[i]; }
#endif
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;
const PER: u32 = 4u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let e0 = flat_workgroup(wg, nwg) * WG * PER + lid;
  for (var p = 0u; p < PER; p++) {
    let e = e0 + p * WG;
    if (e >= P.n * P.d) { return; }
    let j = e / P.d;
    let c = e - j * P.d;
    let orow = P.dstRow0 + j;
    if (orow >= P.outRows) { continue; }
    let id = ids[P.idsBase + j];
    let o = P.outBase + orow * P.d + c;
    if (id >= P.row0 && id < P.row0 + P.rows) {
      let r = id - P.row0;
#if INT4
      let word = T[P.tBase + r * P.ldt + c / 8u];
      let q = i32(extractBits(word, 4u * (c % 8u), 4u)) - 8;
#else
      let word = T[P.tBase + r * P.ldt + c / 4u];
      let q = extractBits(bitcast<i32>(word), 8u * (c % 4u), 8u);
#endif
      out[o] = f32(q) * scale(P.sBase + r * P.groups + c / P.G);
    } else if (P.zeroMissing != 0u && id >= P.vocab) {
      out[o] = 0.0;
    }
  }
}
