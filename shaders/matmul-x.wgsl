// How the f32-activation matmul kernels read X one element at a time (matmul-common.wgsl and the weight-only
// paths of matmul-int8.wgsl).
// The including shader declares `X` (array<f32>, or array<vec4f> with XVEC) and `P.K`.
//   XVEC   X is bound as vec4s (rows 4-aligned).
//   XFULL  the caller guarantees k < K for every read: no clamping or masking.

// One activation X[row + k] (0 when k >= K; the index is clamped so the load stays in bounds).
fn x_elem(row: u32, k: u32) -> f32 {
#if XFULL
  return X[row + k];
#else
  let e = row + min(k, P.K - 1u);
#if XVEC
  let v = X[e / 4u][e % 4u];
#else
  let v = X[e];
#endif
  return select(0.0, v, k < P.K);
#endif
}
