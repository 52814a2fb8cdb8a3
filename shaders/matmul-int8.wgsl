#if SUBGROUPS
enable subgroups;
#endif
// INT8 matmul (src/ops/matmul-int8.ts): y[m, n] = Σ_k x[m, k] · q[n, k] · s[n, ⌊k / G⌋] (+ bias[n]), with W stored
// [N, K] as int8 (4 per u32, rows padded with zeros to Kp = groups · G bytes) and f32 scales S [N, groups].
//
// Two activation modes:
//   default  weight-only: x is f32; the weights are unpacked to f32 in registers, f32 accumulation.
//   A8       W8A8: x was quantised per row and group by quantize-act.wgsl into the XQ buffer (int8 rows of Kp bytes,
//            then f32 scales [M, groups] at word xs_off); each group is an exact i32 dot product
//            (dot4I8Packed with DOT4, else unpacked by shifts), scaled by s_w · s_x into the f32 accumulator.
//
// Layout = the column-lane kernel of matmul.wgsl (what is fast on CPU adapters, docs/kernels-matmul.md): one
// workgroup is one subgroup of WG lanes; lane l owns output columns n0 + l and n0 + WG + l (W rows it reads
// alone: every loaded weight word is used by one lane) and the TM rows of the workgroup. K advances 32 at a time:
// each lane loads 2 × vec4<u32> (32 int8) per column, and the 32 activations of a row are loaded once per
// subgroup (lane l loads a vec4 of f32, or one u32 of int8 with A8) and handed to every lane by subgroupBroadcast.
// Per group of G the lane keeps one partial sum per (row, column) and applies the scales once.
// Rows past M / columns past N are clamped for loading and masked at the store; no workgroup memory, no barriers.
//
// INT4 (weight-only, src/ops/matmul-int4.ts): W holds 4-bit codes, 8 per u32 (nibble i of word j = k 8j + i,
// q = code − 8), rows padded to Kp = groups · G codes; S holds the scales as f16 pairs (unpack2x16float, no
// shader-f16 needed), rows s_ld halves apart (a multiple of 8: rows start on a vec4<u32>). The k32 step reads one
// vec4<u32> (32 codes) per column, STEP8 one u32; k32 reads the scales of 8 groups at once (one vec4<u32>): on
// llvmpipe a load whose address differs per lane costs per-lane loads, and at G = 32 a scale load per group was
// one in every three of them.
//
// Defines: A8, DOT4 (packed_4x8_integer_dot_product builtins), SUBGROUPS, SG4 (4-lane subgroups), XVEC (weight-only:
// x rows 4-aligned and K % G == 0, so x is read as vec4 with no masking; else element loads, zero past K),
// STEP8 (weight-only GEMM variant below; XFULL: K % G == 0, no masking of x).
// Overrides: WG lanes (= subgroup size with SUBGROUPS), TM rows per workgroup (1..16), G group size (32, 64, 128).
// Dispatch: [ceil(N / (2·WG)), ceil(M / TM), 1] (GLU: [ceil(glu_rows / WG), ...]).

struct Params {
  M: u32, N: u32, K: u32, groups: u32,
  ldx: u32, x_off: u32, ldy: u32, y_off: u32,
  w_off: u32,    // vec4<u32> (STEP8: vec2<u32>; INT4 + STEP8: u32) index of W row 0 in the binding
  wv: u32,       // those units per W row: Kp / 16 (Kp / 8); INT4: Kp / 32 (Kp / 8)
  s_off: u32,    // index of S row 0 (row stride: groups; INT4: in halves, a multiple of 8, row stride s_ld)
  bias_off: u32,
  has_bias: u32,
  xs_off: u32,   // A8: word index of the activation scales in XQ (row stride: groups)
  gsz: u32,      // = G, as a run-time value (STEP8: keeps the JIT from unrolling the loop over a group)
  s_ld: u32,     // INT4: halves between scale rows (groups rounded up to a multiple of 8)
  // epilogue (matmul-epilogue.wgsl)
  act: u32, col0: u32, split1: u32, split2: u32,
  y_off1: u32, y_off2: u32, ldy1: u32, ldy2: u32,
  glu_rows: u32, pad2: u32, pad3: u32, pad4: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
#if A8
@group(0) @binding(1) var<storage, read> X: array<u32>;
#else
#if STEP8
@group(0) @binding(1) var<storage, read> X: array<f32>;
#else
#if XVEC
@group(0) @binding(1) var<storage, read> X: array<vec4f>;
#else
@group(0) @binding(1) var<storage, read> X: array<f32>;
#endif
#endif
#endif
#if STEP8
#if INT4
@group(0) @binding(2) var<storage, read> W: array<u32>;
#else
@group(0) @binding(2) var<storage, read> W: array<vec2<u32>>;
#endif
#else
@group(0) @binding(2) var<storage, read> W: array<vec4<u32>>;
#endif
#if INT4
@group(0) @binding(3) var<storage, read> S: array<vec4<u32>>;
#else
@group(0) @binding(3) var<storage, read> S: array<f32>;
#endif
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read> B: array<f32>;

override WG: u32 = 8u;
override TM: u32 = 1u;
override G: u32 = 64u;

// Four int8 in a u32 (byte 0 first) → i32.
fn i8x4(u: u32) -> vec4i {
#if DOT4
  return unpack4xI8(u);
#else
  return bitcast<vec4i>(vec4u(u) << vec4u(24u, 16u, 8u, 0u)) >> vec4u(24u);
#endif
}

#if INT4
// Weight scale i (in halves) and the scale row of W row n.
fn wscale(i: u32) -> f32 {
  return unpack2x16float(S[i >> 3u][(i >> 1u) & 3u])[i & 1u];
}
// Scale g of the 8 in v (a vec4<u32> of S).
fn scale8(v: vec4u, g: u32) -> f32 {
  return unpack2x16float(v[(g >> 1u) & 3u])[g & 1u];
}
fn srow(n: u32) -> u32 {
  return P.s_off + n * P.s_ld;
}

// Eight 4-bit codes (nibble 0 first) → q = code − 8 as two vec4f.
fn i4x8(u: u32) -> array<vec4f, 2> {
  let lo = (vec4u(u) >> vec4u(0u, 4u, 8u, 12u)) & vec4u(15u);
  let hi = (vec4u(u) >> vec4u(16u, 20u, 24u, 28u)) & vec4u(15u);
  return array<vec4f, 2>(vec4f(lo) - 8.0, vec4f(hi) - 8.0);
}
#else
fn wscale(i: u32) -> f32 {
  return S[i];
}
fn srow(n: u32) -> u32 {
  return P.s_off + n * P.groups;
}
#endif

// X row start (clamped to the last row): element index (weight-only) or word index (A8).
fn x_row(m: u32) -> u32 {
  return P.x_off + min(m, P.M - 1u) * P.ldx;
}

#include "subgroup-broadcast.wgsl"
#if !A8
#include "matmul-x.wgsl"
#endif

#if !STEP8
#if A8
alias WB = array<u32, 8>;   // 32 weights of one column, packed
alias PV = vec2i;           // per-group partial sums of the two columns

fn idot(a: u32, b: u32) -> i32 {
#if DOT4
  return dot4I8Packed(a, b);
#else
  return dot(i8x4(a), i8x4(b));
#endif
}

fn w_block(row: u32, k: u32) -> WB {
  let a = W[row + k / 16u];
  let b = W[row + k / 16u + 1u];
  return WB(a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w);
}

// The 32 quantised activations of row word index `row` at k, identical in every lane.
fn x_block(row: u32, k: u32, lane: u32) -> array<u32, 8> {
  let i = row + k / 4u;
#if SUBGROUPS
#if SG4
  let v = X[i + (lane & 3u)];
  let u = X[i + 4u + (lane & 3u)];
  return array<u32, 8>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u),
                       subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
                       subgroupBroadcast(u, 0u), subgroupBroadcast(u, 1u),
                       subgroupBroadcast(u, 2u), subgroupBroadcast(u, 3u));
#else
  let v = X[i + (lane & 7u)];
  return array<u32, 8>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u),
                       subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
                       subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u),
                       subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
#endif
#else
  return array<u32, 8>(X[i], X[i + 1u], X[i + 2u], X[i + 3u], X[i + 4u], X[i + 5u], X[i + 6u], X[i + 7u]);
#endif
}

fn part(m: u32, k: u32, lane: u32, wa: WB, wb: WB) -> PV {
  let x = x_block(x_row(m), k, lane);
  var sa = 0;
  var sb = 0;
  sa += idot(x[0], wa[0]); sb += idot(x[0], wb[0]);
  sa += idot(x[1], wa[1]); sb += idot(x[1], wb[1]);
  sa += idot(x[2], wa[2]); sb += idot(x[2], wb[2]);
  sa += idot(x[3], wa[3]); sb += idot(x[3], wb[3]);
  sa += idot(x[4], wa[4]); sb += idot(x[4], wb[4]);
  sa += idot(x[5], wa[5]); sb += idot(x[5], wb[5]);
  sa += idot(x[6], wa[6]); sb += idot(x[6], wb[6]);
  sa += idot(x[7], wa[7]); sb += idot(x[7], wb[7]);
  return PV(sa, sb);
}

// Applies the weight scales (s) and the row's activation scale of group g.
fn fin(p: PV, m: u32, g: u32, s: vec2f) -> vec2f {
  let xs = bitcast<f32>(X[P.xs_off + min(m, P.M - 1u) * P.groups + g]);
  return vec2f(p) * (s * xs);
}
#else
alias WB = array<vec4f, 8>;
alias PV = vec2f;

#if INT4
// The 32 codes c of a column, NOT offset: part() subtracts 8 · Σx once per row instead of 8 per weight.
fn c4x4(u: u32, s: vec4u) -> vec4f {
  return vec4f((vec4u(u) >> s) & vec4u(15u));
}
fn w_block(row: u32, k: u32) -> WB {
  let a = W[row + k / 32u];
  let lo = vec4u(0u, 4u, 8u, 12u);
  let hi = vec4u(16u, 20u, 24u, 28u);
  return WB(c4x4(a.x, lo), c4x4(a.x, hi), c4x4(a.y, lo), c4x4(a.y, hi),
            c4x4(a.z, lo), c4x4(a.z, hi), c4x4(a.w, lo), c4x4(a.w, hi));
}
#else
fn w_block(row: u32, k: u32) -> WB {
  let a = W[row + k / 16u];
  let b = W[row + k / 16u + 1u];
  return WB(vec4f(i8x4(a.x)), vec4f(i8x4(a.y)), vec4f(i8x4(a.z)), vec4f(i8x4(a.w)),
            vec4f(i8x4(b.x)), vec4f(i8x4(b.y)), vec4f(i8x4(b.z)), vec4f(i8x4(b.w)));
}
#endif


// The 32 activations X[row + k .. + 31] (zeros past K), identical in every lane.
fn x_block(row: u32, k: u32, lane: u32) -> array<vec4f, 8> {
#if SUBGROUPS
#if XVEC
  let i = (row + k) / 4u;
#if SG4
  let v = X[i + (lane & 3u)];
  let u = X[i + 4u + (lane & 3u)];
  return array<vec4f, 8>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u),
                         subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
                         subgroupBroadcast(u, 0u), subgroupBroadcast(u, 1u),
                         subgroupBroadcast(u, 2u), subgroupBroadcast(u, 3u));
#else
  let v = X[i + (lane & 7u)];
  return array<vec4f, 8>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u),
                         subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
                         subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u),
                         subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
#endif
#else
#if SG4
  // 4-lane subgroups: lane l loads k + l + 4j, j = 0..7.
  let e0 = x_elem(row, k + (lane & 3u));       let e1 = x_elem(row, k + 4u + (lane & 3u));
  let e2 = x_elem(row, k + 8u + (lane & 3u));  let e3 = x_elem(row, k + 12u + (lane & 3u));
  let e4 = x_elem(row, k + 16u + (lane & 3u)); let e5 = x_elem(row, k + 20u + (lane & 3u));
  let e6 = x_elem(row, k + 24u + (lane & 3u)); let e7 = x_elem(row, k + 28u + (lane & 3u));
  return array<vec4f, 8>(bc_lo(e0), bc_lo(e1), bc_lo(e2), bc_lo(e3), bc_lo(e4), bc_lo(e5), bc_lo(e6), bc_lo(e7));
#else
  // lane l loads k + l + 8j, j = 0..3.
  let e0 = x_elem(row, k + (lane & 7u));
  let e1 = x_elem(row, k + 8u + (lane & 7u));
  let e2 = x_elem(row, k + 16u + (lane & 7u));
  let e3 = x_elem(row, k + 24u + (lane & 7u));
  return array<vec4f, 8>(bc_lo(e0), bc_hi(e0), bc_lo(e1), bc_hi(e1), bc_lo(e2), bc_hi(e2), bc_lo(e3), bc_hi(e3));
#endif
#endif
#else
#if XVEC
  let i = (row + k) / 4u;
  return array<vec4f, 8>(X[i], X[i + 1u], X[i + 2u], X[i + 3u], X[i + 4u], X[i + 5u], X[i + 6u], X[i + 7u]);
#else
  var r: array<vec4f, 8>;
  for (var j = 0u; j < 8u; j++) {
    let kk = k + 4u * j;
    r[j] = vec4f(x_elem(row, kk), x_elem(row, kk + 1u), x_elem(row, kk + 2u), x_elem(row, kk + 3u));
  }
  return r;
#endif
#endif
}

fn part(m: u32, k: u32, lane: u32, wa: WB, wb: WB) -> PV {
  let x = x_block(x_row(m), k, lane);
  let sa = dot(x[0], wa[0]) + dot(x[1], wa[1]) + dot(x[2], wa[2]) + dot(x[3], wa[3]) +
           dot(x[4], wa[4]) + dot(x[5], wa[5]) + dot(x[6], wa[6]) + dot(x[7], wa[7]);
  let sb = dot(x[0], wb[0]) + dot(x[1], wb[1]) + dot(x[2], wb[2]) + dot(x[3], wb[3]) +
           dot(x[4], wb[4]) + dot(x[5], wb[5]) + dot(x[6], wb[6]) + dot(x[7], wb[7]);
#if INT4
  // Σ (c − 8) x = Σ c x − 8 Σ x (codes are unsigned in w_block)
  let xs = ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7]));
  let sx = 8.0 * dot(xs, vec4f(1.0));
  return PV(sa - sx, sb - sx);
#else
  return PV(sa, sb);
#endif
}

fn fin(p: PV, m: u32, g: u32, s: vec2f) -> vec2f {
  return p * s;
}
#endif

#endif

#include "matmul-epilogue.wgsl"

fn store_y(m: u32, n: u32, acc: f32) {
  if (m < P.M && n < P.N) {
    var v = acc;
    if (P.has_bias != 0u) { v += B[P.bias_off + n]; }
    Y[y_index(0u, m, n)] = activate(v);
  }
}

// One lane's two accumulators (columns c.x and c.y, see lane_columns).
fn store_pair(m: u32, c: vec2u, acc: vec2f) {
#if GLU
  if (m < P.M && c.x < P.glu_rows) {
    var g = acc.x;
    var u = acc.y;
    if (P.has_bias != 0u) { g += B[P.bias_off + c.x]; u += B[P.bias_off + c.y]; }
    Y[y_index(0u, m, c.x)] = silu(g) * u;
  }
#else
  store_y(m, c.x, acc.x);
  store_y(m, c.y, acc.y);
#endif
}

// The TM rows of a lane's accumulators (rows past TM are dropped at pipeline creation: TM is an override).
fn store_tile(m0: u32, c: vec2u, a0: vec2f, a1: vec2f, a2: vec2f, a3: vec2f, a4: vec2f, a5: vec2f, a6: vec2f, a7: vec2f,
              a8: vec2f, a9: vec2f, a10: vec2f, a11: vec2f, a12: vec2f, a13: vec2f, a14: vec2f, a15: vec2f) {
  store_pair(m0, c, a0);
  if (TM > 1u) { store_pair(m0 + 1u, c, a1); }
  if (TM > 2u) { store_pair(m0 + 2u, c, a2); }
  if (TM > 3u) { store_pair(m0 + 3u, c, a3); }
  if (TM > 4u) { store_pair(m0 + 4u, c, a4); }
  if (TM > 5u) { store_pair(m0 + 5u, c, a5); }
  if (TM > 6u) { store_pair(m0 + 6u, c, a6); }
  if (TM > 7u) { store_pair(m0 + 7u, c, a7); }
  if (TM > 8u) { store_pair(m0 + 8u, c, a8); }
  if (TM > 9u) { store_pair(m0 + 9u, c, a9); }
  if (TM > 10u) { store_pair(m0 + 10u, c, a10); }
  if (TM > 11u) { store_pair(m0 + 11u, c, a11); }
  if (TM > 12u) { store_pair(m0 + 12u, c, a12); }
  if (TM > 13u) { store_pair(m0 + 13u, c, a13); }
  if (TM > 14u) { store_pair(m0 + 14u, c, a14); }
  if (TM > 15u) { store_pair(m0 + 15u, c, a15); }
}

#if !STEP8
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u,
#if SUBGROUPS
        @builtin(subgroup_invocation_id) lane: u32,
#else
        @builtin(local_invocation_index) lane: u32,
#endif
) {
  let m0 = wg.y * TM;
  let c = lane_columns(wg.x, lane, WG);
  let n0 = min(c.x, P.N - 1u);
  let n1 = min(c.y, P.N - 1u);
  let wr0 = P.w_off + n0 * P.wv;
  let wr1 = P.w_off + n1 * P.wv;
  let sr0 = srow(n0);
  let sr1 = srow(n1);
  var a0 = vec2f(0.0); var a1 = vec2f(0.0); var a2 = vec2f(0.0); var a3 = vec2f(0.0);
  var a4 = vec2f(0.0); var a5 = vec2f(0.0); var a6 = vec2f(0.0); var a7 = vec2f(0.0);
  var a8 = vec2f(0.0); var a9 = vec2f(0.0); var a10 = vec2f(0.0); var a11 = vec2f(0.0);
  var a12 = vec2f(0.0); var a13 = vec2f(0.0); var a14 = vec2f(0.0); var a15 = vec2f(0.0);
#if INT4
  var sv0 = vec4u();
  var sv1 = vec4u();
#endif
  for (var g = 0u; g < P.groups; g++) {
#if INT4
    if ((g & 7u) == 0u) {
      sv0 = S[(sr0 + g) / 8u];
      sv1 = S[(sr1 + g) / 8u];
    }
    let s = vec2f(scale8(sv0, g), scale8(sv1, g));
#else
    let s = vec2f(wscale(sr0 + g), wscale(sr1 + g));
#endif
    var p0 = PV(); var p1 = PV(); var p2 = PV(); var p3 = PV();
    var p4 = PV(); var p5 = PV(); var p6 = PV(); var p7 = PV();
    var p8 = PV(); var p9 = PV(); var p10 = PV(); var p11 = PV();
    var p12 = PV(); var p13 = PV(); var p14 = PV(); var p15 = PV();
    for (var c = 0u; c < G; c += 32u) {
      let k = g * G + c;
      let wa = w_block(wr0, k);
      let wb = w_block(wr1, k);
      p0 += part(m0, k, lane, wa, wb);
      if (TM > 1u) { p1 += part(m0 + 1u, k, lane, wa, wb); }
      if (TM > 2u) { p2 += part(m0 + 2u, k, lane, wa, wb); }
      if (TM > 3u) { p3 += part(m0 + 3u, k, lane, wa, wb); }
      if (TM > 4u) { p4 += part(m0 + 4u, k, lane, wa, wb); }
      if (TM > 5u) { p5 += part(m0 + 5u, k, lane, wa, wb); }
      if (TM > 6u) { p6 += part(m0 + 6u, k, lane, wa, wb); }
      if (TM > 7u) { p7 += part(m0 + 7u, k, lane, wa, wb); }
      if (TM > 8u) { p8 += part(m0 + 8u, k, lane, wa, wb); }
      if (TM > 9u) { p9 += part(m0 + 9u, k, lane, wa, wb); }
      if (TM > 10u) { p10 += part(m0 + 10u, k, lane, wa, wb); }
      if (TM > 11u) { p11 += part(m0 + 11u, k, lane, wa, wb); }
      if (TM > 12u) { p12 += part(m0 + 12u, k, lane, wa, wb); }
      if (TM > 13u) { p13 += part(m0 + 13u, k, lane, wa, wb); }
      if (TM > 14u) { p14 += part(m0 + 14u, k, lane, wa, wb); }
      if (TM > 15u) { p15 += part(m0 + 15u, k, lane, wa, wb); }
    }
    a0 += fin(p0, m0, g, s);
    if (TM > 1u) { a1 += fin(p1, m0 + 1u, g, s); }
    if (TM > 2u) { a2 += fin(p2, m0 + 2u, g, s); }
    if (TM > 3u) { a3 += fin(p3, m0 + 3u, g, s); }
    if (TM > 4u) { a4 += fin(p4, m0 + 4u, g, s); }
    if (TM > 5u) { a5 += fin(p5, m0 + 5u, g, s); }
    if (TM > 6u) { a6 += fin(p6, m0 + 6u, g, s); }
    if (TM > 7u) { a7 += fin(p7, m0 + 7u, g, s); }
    if (TM > 8u) { a8 += fin(p8, m0 + 8u, g, s); }
    if (TM > 9u) { a9 += fin(p9, m0 + 9u, g, s); }
    if (TM > 10u) { a10 += fin(p10, m0 + 10u, g, s); }
    if (TM > 11u) { a11 += fin(p11, m0 + 11u, g, s); }
    if (TM > 12u) { a12 += fin(p12, m0 + 12u, g, s); }
    if (TM > 13u) { a13 += fin(p13, m0 + 13u, g, s); }
    if (TM > 14u) { a14 += fin(p14, m0 + 14u, g, s); }
    if (TM > 15u) { a15 += fin(p15, m0 + 15u, g, s); }
  }
  store_tile(m0, c, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
}
#endif

#if STEP8
// STEP8 (weight-only GEMM): the f32 gemm of matmul.wgsl with int8 weights. Per group the lane loads its two
// scales once; then K advances 8 at a time: one vec2<u32> (8 int8) per column, widened and scaled into
// registers (shared by all TM rows), and X[row, k + (lane & 7)] broadcast to all lanes (one load per subgroup).
// No per-group partial sums (the scale is folded into the weights), so accumulators stay at TM x vec2f.

#if INT4
fn w8(q: u32, s: f32) -> array<vec4f, 2> {
  let v = i4x8(q);
  return array<vec4f, 2>(v[0] * s, v[1] * s);
}
#else
fn w8(q: vec2<u32>, s: f32) -> array<vec4f, 2> {
  return array<vec4f, 2>(vec4f(i8x4(q.x)) * s, vec4f(i8x4(q.y)) * s);
}
#endif

// X[row + k .. + 7] (zeros past K), identical in every lane.
fn x8(row: u32, k: u32, lane: u32) -> array<vec4f, 2> {
#if SUBGROUPS
#if SG4
  let v = x_elem(row, k + (lane & 3u));
  let u = x_elem(row, k + 4u + (lane & 3u));
  return array<vec4f, 2>(bc_lo(v), bc_lo(u));
#else
  let v = x_elem(row, k + (lane & 7u));
  return array<vec4f, 2>(bc_lo(v), bc_hi(v));
#endif
#else
  return array<vec4f, 2>(vec4f(x_elem(row, k), x_elem(row, k + 1u), x_elem(row, k + 2u), x_elem(row, k + 3u)),
                         vec4f(x_elem(row, k + 4u), x_elem(row, k + 5u), x_elem(row, k + 6u), x_elem(row, k + 7u)));
#endif
}

fn r8(m: u32, k: u32, lane: u32, wa: array<vec4f, 2>, wb: array<vec4f, 2>) -> vec2f {
  let x = x8(x_row(m), k, lane);
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
  let m0 = wg.y * TM;
  let c = lane_columns(wg.x, lane, WG);
  let n0 = min(c.x, P.N - 1u);
  let n1 = min(c.y, P.N - 1u);
  let wr0 = P.w_off + n0 * P.wv;
  let wr1 = P.w_off + n1 * P.wv;
  let sr0 = srow(n0);
  let sr1 = srow(n1);
  var a0 = vec2f(0.0); var a1 = vec2f(0.0); var a2 = vec2f(0.0); var a3 = vec2f(0.0);
  var a4 = vec2f(0.0); var a5 = vec2f(0.0); var a6 = vec2f(0.0); var a7 = vec2f(0.0);
  var a8 = vec2f(0.0); var a9 = vec2f(0.0); var a10 = vec2f(0.0); var a11 = vec2f(0.0);
  var a12 = vec2f(0.0); var a13 = vec2f(0.0); var a14 = vec2f(0.0); var a15 = vec2f(0.0);
  for (var g = 0u; g < P.groups; g++) {
    let sa = wscale(sr0 + g);
    let sb = wscale(sr1 + g);
    for (var k = g * G; k < g * G + P.gsz; k += 8u) {
      let wa = w8(W[wr0 + k / 8u], sa);
      let wb = w8(W[wr1 + k / 8u], sb);
      a0 += r8(m0, k, lane, wa, wb);
      if (TM > 1u) { a1 += r8(m0 + 1u, k, lane, wa, wb); }
      if (TM > 2u) { a2 += r8(m0 + 2u, k, lane, wa, wb); }
      if (TM > 3u) { a3 += r8(m0 + 3u, k, lane, wa, wb); }
      if (TM > 4u) { a4 += r8(m0 + 4u, k, lane, wa, wb); }
      if (TM > 5u) { a5 += r8(m0 + 5u, k, lane, wa, wb); }
      if (TM > 6u) { a6 += r8(m0 + 6u, k, lane, wa, wb); }
      if (TM > 7u) { a7 += r8(m0 + 7u, k, lane, wa, wb); }
      if (TM > 8u) { a8 += r8(m0 + 8u, k, lane, wa, wb); }
      if (TM > 9u) { a9 += r8(m0 + 9u, k, lane, wa, wb); }
      if (TM > 10u) { a10 += r8(m0 + 10u, k, lane, wa, wb); }
      if (TM > 11u) { a11 += r8(m0 + 11u, k, lane, wa, wb); }
      if (TM > 12u) { a12 += r8(m0 + 12u, k, lane, wa, wb); }
      if (TM > 13u) { a13 += r8(m0 + 13u, k, lane, wa, wb); }
      if (TM > 14u) { a14 += r8(m0 + 14u, k, lane, wa, wb); }
      if (TM > 15u) { a15 += r8(m0 + 15u, k, lane, wa, wb); }
    }
  }
  store_tile(m0, c, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
}
#endif
