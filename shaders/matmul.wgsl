#if F16
enable f16;
#endif
#if SUBGROUPS
enable subgroups;
#endif
// Column-lane matmul ("gemm" and "gemv" variants of src/ops/matmul.ts), tuned for CPU WebGPU (lavapipe).
//
// One workgroup = one subgroup of WG lanes. Lane l owns output columns n0 + l and n0 + WG + l (two W rows it
// reads on its own), and the workgroup owns TM consecutive output rows (1..16), so its tile is TM x 2·WG.
// K is walked in blocks of 8: each lane loads its 2 x 8 weights, and each of the TM X rows contributes 8 values
// that all lanes need. With SUBGROUPS, lane l loads X[row, k + (l & 7)] and subgroupBroadcast hands the 8 values
// to every lane, so an X element is loaded once per subgroup instead of once per lane (SG4: 4-lane subgroups load
// two values per lane). Without subgroups every lane loads the 8 values itself (as two vec4s with XVEC).
//
// Why this shape (see docs/kernels-matmul.md): lavapipe runs a subgroup as one SIMD thread and turns every load
// inside a loop into a per-lane scalar load with a bounds check (~7 instructions per lane), even when the address
// is uniform; workgroup barriers switch coroutines. So the kernel avoids workgroup memory and barriers entirely,
// makes every loaded W element useful to exactly one lane, loads X once per subgroup, and keeps the per-lane
// accumulators in registers (all loops over TM are unrolled by hand: `if (TM > i)` folds at pipeline creation).
//
// Dispatch: [ceil(N / (2·WG)), ceil(M / TM), batches] (GLU: [ceil(glu_rows / WG), ...]). Requires WG == subgroup
// size when SUBGROUPS.
#include "matmul-common.wgsl"
#include "subgroup-broadcast.wgsl"

override WG: u32 = 8u;  // lanes per workgroup (the subgroup size when SUBGROUPS)
override TM: u32 = 16u; // output rows per workgroup, 1..16

// X[row + k .. row + k + 7] (zeros past K) as two vec4s, identical in every lane.
fn x_block8(row: u32, k: u32, lane: u32) -> array<vec4f, 2> {
#if SUBGROUPS
#if SG4
  // 4-lane subgroups (SwiftShader): two loads per lane, broadcast from lanes 0..3 each.
#if VEC
  let v = X[row + k + (lane & 3u)];
  let u = X[row + k + 4u + (lane & 3u)];
#else
  let v = x_elem(row, k + (lane & 3u));
  let u = x_elem(row, k + 4u + (lane & 3u));
#endif
  return array<vec4f, 2>(bc_lo(v), bc_lo(u));
#else
#if VEC
  let v = X[row + k + (lane & 7u)];
#else
  let v = x_elem(row, k + (lane & 7u));
#endif
  return array<vec4f, 2>(bc_lo(v), bc_hi(v));
#endif
#else
#if XVEC
  let i = (row + k) / 4u;
  return array<vec4f, 2>(X[i], X[i + 1u]);
#else
  return array<vec4f, 2>(vec4f(x_elem(row, k), x_elem(row, k + 1u), x_elem(row, k + 2u), x_elem(row, k + 3u)),
                         vec4f(x_elem(row, k + 4u), x_elem(row, k + 5u), x_elem(row, k + 6u), x_elem(row, k + 7u)));
#endif
#endif
}

// Contribution of 8 k-steps of X row `m` to this lane's two columns.
fn row8(b: u32, m: u32, k: u32, lane: u32, wa: array<vec4f, 2>, wb: array<vec4f, 2>) -> vec2f {
  let x = x_block8(x_row(b, m), k, lane);
  return vec2f(dot(x[0], wa[0]) + dot(x[1], wa[1]), dot(x[0], wb[0]) + dot(x[1], wb[1]));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u,
#if SUBGROUPS
        @builtin(subgroup_invocation_id) lane: u32,
#else
        @builtin(local_invocation_index) lane: u32,
#endif
) {
  let b = wg.z;
  let m0 = wg.y * TM;
  let c = lane_columns(wg.x, lane, WG);
  let wr0 = w_row(b, c.x);
  let wr1 = w_row(b, c.y);
  var a0 = vec2f(0.0); var a1 = vec2f(0.0); var a2 = vec2f(0.0); var a3 = vec2f(0.0);
  var a4 = vec2f(0.0); var a5 = vec2f(0.0); var a6 = vec2f(0.0); var a7 = vec2f(0.0);
  var a8 = vec2f(0.0); var a9 = vec2f(0.0); var a10 = vec2f(0.0); var a11 = vec2f(0.0);
  var a12 = vec2f(0.0); var a13 = vec2f(0.0); var a14 = vec2f(0.0); var a15 = vec2f(0.0);
  for (var k = 0u; k < P.K; k += 8u) {
    let wa = w_block8(wr0, k);
    let wb = w_block8(wr1, k);
    a0 += row8(b, m0, k, lane, wa, wb);
    if (TM > 1u) { a1 += row8(b, m0 + 1u, k, lane, wa, wb); }
    if (TM > 2u) { a2 += row8(b, m0 + 2u, k, lane, wa, wb); }
    if (TM > 3u) { a3 += row8(b, m0 + 3u, k, lane, wa, wb); }
    if (TM > 4u) { a4 += row8(b, m0 + 4u, k, lane, wa, wb); }
    if (TM > 5u) { a5 += row8(b, m0 + 5u, k, lane, wa, wb); }
    if (TM > 6u) { a6 += row8(b, m0 + 6u, k, lane, wa, wb); }
    if (TM > 7u) { a7 += row8(b, m0 + 7u, k, lane, wa, wb); }
    if (TM > 8u) { a8 += row8(b, m0 + 8u, k, lane, wa, wb); }
    if (TM > 9u) { a9 += row8(b, m0 + 9u, k, lane, wa, wb); }
    if (TM > 10u) { a10 += row8(b, m0 + 10u, k, lane, wa, wb); }
    if (TM > 11u) { a11 += row8(b, m0 + 11u, k, lane, wa, wb); }
    if (TM > 12u) { a12 += row8(b, m0 + 12u, k, lane, wa, wb); }
    if (TM > 13u) { a13 += row8(b, m0 + 13u, k, lane, wa, wb); }
    if (TM > 14u) { a14 += row8(b, m0 + 14u, k, lane, wa, wb); }
    if (TM > 15u) { a15 += row8(b, m0 + 15u, k, lane, wa, wb); }
  }
  store_pair(b, m0, c, a0);
  if (TM > 1u) { store_pair(b, m0 + 1u, c, a1); }
  if (TM > 2u) { store_pair(b, m0 + 2u, c, a2); }
  if (TM > 3u) { store_pair(b, m0 + 3u, c, a3); }
  if (TM > 4u) { store_pair(b, m0 + 4u, c, a4); }
  if (TM > 5u) { store_pair(b, m0 + 5u, c, a5); }
  if (TM > 6u) { store_pair(b, m0 + 6u, c, a6); }
  if (TM > 7u) { store_pair(b, m0 + 7u, c, a7); }
  if (TM > 8u) { store_pair(b, m0 + 8u, c, a8); }
  if (TM > 9u) { store_pair(b, m0 + 9u, c, a9); }
  if (TM > 10u) { store_pair(b, m0 + 10u, c, a10); }
  if (TM > 11u) { store_pair(b, m0 + 11u, c, a11); }
  if (TM > 12u) { store_pair(b, m0 + 12u, c, a12); }
  if (TM > 13u) { store_pair(b, m0 + 13u, c, a13); }
  if (TM > 14u) { store_pair(b, m0 + 14u, c, a14); }
  if (TM > 15u) { store_pair(b, m0 + 15u, c, a15); }
}
