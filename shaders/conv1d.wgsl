// Conv1d, kernel 3, padding 1, stride 1 or 2, with bias and optional exact GELU (a parameter), over W independent
// windows, computed as an implicit GEMM (no im2col buffer):
//   y[m, co] = b[co] + Σ_{kk < 3·Cin} W[co, kk] · A[m, kk],   kk = ci·3 + k,
//   A[m, kk] = x[window w, channel ci, time t·stride + k − 1]   (0 outside [0, Tin): each window padded alone)
// with m = w·Tout + t. The weight keeps PyTorch's [Cout, Cin, 3] layout: row co of the GEMM's B matrix is
// contiguous. Output is always time-major y[W·Tout, Cout].
//
// Defines: CHANNEL_MAJOR  x is [W, Cin, Tin] (the mel layout); else time-major [W, Tin, Cin]
//          W_F16          weight array<f16> (needs F16);  W_PACKED  weight f16 read as u32 words (no F16 needed)
// Tiling: a 128×64 output tile per workgroup of 16×16 invocations, 8×4 outputs per invocation (register
// blocked), K staged through workgroup memory 16 at a time as vec4 rows (12 KiB). Bounds-checked on M, N, K.
// On lavapipe every lane-varying workgroup-memory read is a per-lane gather, so FMAs per read decide speed:
// 8×4 measured ~25 % faster per CPU-second than 4×4 (docs/kernels-misc.md). The inner K loop has a
// run-time bound so the compiler does not unroll it fully.
// Dispatch: [ceil(Cout/64), ceil(M/128)].
#if F16
enable f16;
#endif
#include "common.wgsl"

struct Params {
  M: u32,       // output rows (windows · Tout)
  N: u32,       // Cout
  K: u32,       // 3 · Cin
  Cin: u32,
  Tin: u32,
  Tout: u32,
  stride: u32,
  xBase: u32,
  wBase: u32,   // in weight elements
  bBase: u32,
  yBase: u32,
  gelu: u32,    // 1: y = gelu_erf(acc + b) (exact erf GELU)
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if W_F16
@group(0) @binding(2) var<storage, read> wt: array<f16>;
#else
#if W_PACKED
@group(0) @binding(2) var<storage, read> wt: array<u32>;
#else
@group(0) @binding(2) var<storage, read> wt: array<f32>;
#endif
#endif
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const BM: u32 = 128u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> As: array<vec4f, 512>; // [BK][BM/4]: As[kk·32 + mq] = A rows 4mq..4mq+3 at kk
var<workgroup> Bs: array<vec4f, 256>; // [BK][BN/4]: Bs[kk·16 + nq] = B columns 4nq..4nq+3 at kk

fn load_w(i: u32) -> f32 {
#if W_F16
  return f32(wt[i]);
#else
#if W_PACKED
  return unpack2x16float(wt[i >> 1u])[i & 1u];
#else
  return wt[i];
#endif
#endif
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;

  // Loading roles. A: rows 4·aq..4·aq+3 at K offsets ak and ak + 8. B: columns 4·bq..4·bq+3 at K offset bk.
  let ak = lid / 32u;
  let aq = lid % 32u;
  let bk = lid / 16u;
  let bq = lid % 16u;
  // Per loaded A row: first time step of its window, t·stride − 1, and whether the row exists.
  var wT: array<u32, 4>;
  var ts: array<i32, 4>;
  var ok: array<bool, 4>;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + aq * 4u + i;
    let w = m / P.Tout;
    wT[i] = w * P.Tin;
    ts[i] = i32((m - w * P.Tout) * P.stride) - 1;
    ok[i] = m < P.M;
  }

  var acc: array<vec4f, 8>;
  for (var i = 0u; i < 8u; i++) { acc[i] = vec4f(0.0); }

  for (var k0 = 0u; k0 < P.K; k0 += BK) {
    for (var p = 0u; p < 2u; p++) {
      let kr = ak + 8u * p;
      let kk = k0 + kr;
      let kin = kk < P.K;
      let ci = kk / 3u;
      let k = i32(kk - ci * 3u);
      var a = vec4f(0.0);
      for (var i = 0u; i < 4u; i++) {
        let src = ts[i] + k;
        if (kin && ok[i] && src >= 0 && u32(src) < P.Tin) {
#if CHANNEL_MAJOR
          a[i] = x[P.xBase + wT[i] * P.Cin + ci * P.Tin + u32(src)];
#else
          a[i] = x[P.xBase + (wT[i] + u32(src)) * P.Cin + ci];
#endif
        }
      }
      As[kr * 32u + aq] = a;
    }
    let kk = k0 + bk;
    var b = vec4f(0.0);
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + bq * 4u + j;
      if (kk < P.K && n < P.N) { b[j] = load_w(P.wBase + n * P.K + kk); }
    }
    Bs[bk * 16u + bq] = b;
    workgroupBarrier();

    let qEnd = min(BK, P.K - k0);
    for (var q = 0u; q < qEnd; q++) {
      let a0 = As[q * 32u + 2u * l.y];
      let a1 = As[q * 32u + 2u * l.y + 1u];
      let bv = Bs[q * 16u + l.x];
      acc[0] = fma(vec4f(a0.x), bv, acc[0]);
      acc[1] = fma(vec4f(a0.y), bv, acc[1]);
      acc[2] = fma(vec4f(a0.z), bv, acc[2]);
      acc[3] = fma(vec4f(a0.w), bv, acc[3]);
      acc[4] = fma(vec4f(a1.x), bv, acc[4]);
      acc[5] = fma(vec4f(a1.y), bv, acc[5]);
      acc[6] = fma(vec4f(a1.z), bv, acc[6]);
      acc[7] = fma(vec4f(a1.w), bv, acc[7]);
    }
    workgroupBarrier();
  }

  // Invocation (l.x, l.y) owns rows m0 + 8·l.y + i (i < 8) and columns n0 + 4·l.x + j (j < 4).
  let nb = n0 + l.x * 4u;
  for (var i = 0u; i < 8u; i++) {
    let m = m0 + l.y * 8u + i;
    if (m >= P.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = nb + j;
      if (n < P.N) {
        var v = acc[i][j] + bias[P.bBase + n];
        if (P.gelu != 0u) { v = gelu_erf(v); }
        y[P.yBase + m * P.N + n] = v;
      }
    }
  }
}
