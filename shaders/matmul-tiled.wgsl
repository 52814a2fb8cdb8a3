#if F16
enable f16;
#endif
// Shared-memory tiled GEMM ("tiled" variant of src/ops/matmul.ts) for GPUs: the classic design real hardware
// likes, selected on non-CPU adapters for M > 8. A 16x16 workgroup (256 invocations) computes a 64x64 tile of Y;
// each invocation owns 4x4 outputs at rows ty + 16i and columns tx + 16j (strided, so the shared-memory reads of
// neighbouring invocations hit neighbouring banks). Per 16-wide K step both operand tiles (64x16 each, read along
// K so neighbouring invocations read neighbouring addresses) are staged k-major in workgroup memory
// (2 x 16 x 64 f32 = 8 KiB), then 16 rank-1 updates run from registers. Any M, N, K (edges are zero-filled / masked).
//
// Dispatch: [ceil(N / 64), ceil(M / 64), batches].
#include "matmul-common.wgsl"

const TILE = 64u;
const BK = 16u;

var<workgroup> xs: array<f32, 1024>; // [BK][TILE]
var<workgroup> ws: array<f32, 1024>; // [BK][TILE]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let b = wg.z;
  let m0 = wg.y * TILE;
  let n0 = wg.x * TILE;
  // Loader mapping: element e = li + 256q of a 64x16 tile is row e / 16, k-offset e % 16.
  let lk = li % BK;
  let lr = li / BK; // 0..15; rows lr + 16q
  var xr: array<u32, 4>;
  var wr: array<u32, 4>;
  for (var q = 0u; q < 4u; q++) {
    xr[q] = x_row(b, m0 + lr + 16u * q);
    wr[q] = w_row(b, n0 + lr + 16u * q);
  }
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < P.K; k0 += BK) {
    for (var q = 0u; q < 4u; q++) {
      // Rows past M / N are clamped duplicates; their results are never stored.
      xs[lk * TILE + lr + 16u * q] = x_elem(xr[q], k0 + lk);
      ws[lk * TILE + lr + 16u * q] = w_elem(wr[q], k0 + lk);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<f32, 4>;
      var w: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = xs[kk * TILE + l.y + 16u * i]; }
      for (var j = 0u; j < 4u; j++) { w[j] = ws[kk * TILE + l.x + 16u * j]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], w[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) { store_y(b, m0 + l.y + 16u * i, n0 + l.x + 16u * j, acc[i][j]); }
  }
}
