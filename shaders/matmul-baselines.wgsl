#if F16
enable f16;
#endif
// Reference kernels that the benchmark (bench/cases/matmul.ts) measures ours against; not used by the engine
// except `naive` as the simplest-possible cross-check in tests.
//
//   naive     one output per invocation, 16x16 workgroups, same NT layout / parameters as matmul.wgsl.
//             Dispatch [ceil(N / 16), ceil(M / 16), batches].
//   regblock  the register-blocked kernel of the spec appendix (webgpu-without-a-gpu.md): 64x64 tile, 16x16
//             invocations, 4x4 outputs per invocation at rows 4·ty + i / columns 4·tx + j, 16-wide K steps staged
//             in workgroup memory. Adapted to the NT layout (W [N, K]) and to any size (edge rows clamped, K tail
//             zero-filled, stores masked). Dispatch [ceil(N / 64), ceil(M / 64), batches].
//   APPENDIX  (define) the appendix kernel verbatim: its own bindings, B given transposed [K, N], no bounds checks,
//             M, N multiples of 64 and K a multiple of 16. Entry `appendix`.
#if APPENDIX
struct Dims { M: u32, N: u32, K: u32, pad: u32 };
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> Bt: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
const BM = 64u;
const BN = 64u;
const BK = 16u;
var<workgroup> As: array<f32, 1024>; // [64][16]
var<workgroup> Bs: array<f32, 1024>; // [16][64]
@compute @workgroup_size(16, 16)
fn appendix(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u,
            @builtin(local_invocation_index) li: u32) {
  let r0 = wg.y * BM;
  let c0 = wg.x * BN;
  var acc: array<array<f32, 4>, 4>;
  for (var t = 0u; t < d.K; t += BK) {
    for (var i = 0u; i < 4u; i++) {
      let e = li * 4u + i;
      As[e] = A[(r0 + e / BK) * d.K + t + e % BK];
      Bs[e] = Bt[(t + e / BN) * d.N + c0 + e % BN];
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = As[(l.y * 4u + i) * BK + k]; }
      for (var j = 0u; j < 4u; j++) { b[j] = Bs[k * BN + l.x * 4u + j]; }
      for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); } }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) { C[(r0 + l.y * 4u + i) * d.N + c0 + l.x * 4u + j] = acc[i][j]; }
  }
}
#else
#include "matmul-common.wgsl"

@compute @workgroup_size(16, 16)
fn naive(@builtin(global_invocation_id) g: vec3u) {
  let b = g.z;
  let m = g.y;
  let n = g.x;
  let xr = x_row(b, m);
  let wr = w_row(b, n);
  var acc = 0.0;
  for (var k = 0u; k < P.K; k++) {
    acc = fma(X[xr + k], w_elem(wr, k), acc);
  }
  store_y(b, m, n, acc);
}

var<workgroup> As: array<f32, 1024>; // [64][16]
var<workgroup> Bs: array<f32, 1024>; // [16][64]

@compute @workgroup_size(16, 16)
fn regblock(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u,
            @builtin(local_invocation_index) li: u32) {
  let b = wg.z;
  let r0 = wg.y * 64u;
  let c0 = wg.x * 64u;
  var acc: array<array<f32, 4>, 4>;
  for (var t = 0u; t < P.K; t += 16u) {
    for (var i = 0u; i < 4u; i++) {
      let e = li * 4u + i;
      As[e] = x_elem(x_row(b, r0 + e / 16u), t + e % 16u);
      // Bs is [k][n] as in the appendix; W is [N, K], so element (k, n) is W row c0 + n, column t + k.
      Bs[e] = w_elem(w_row(b, c0 + e % 64u), t + e / 64u);
    }
    workgroupBarrier();
    for (var k = 0u; k < 16u; k++) {
      var a: array<f32, 4>;
      var w: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = As[(l.y * 4u + i) * 16u + k]; }
      for (var j = 0u; j < 4u; j++) { w[j] = Bs[k * 64u + l.x * 4u + j]; }
      for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], w[j], acc[i][j]); } }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) { store_y(b, r0 + l.y * 4u + i, c0 + l.x * 4u + j, acc[i][j]); }
  }
}
#endif
