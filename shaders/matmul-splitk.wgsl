#if F16
enable f16;
#endif
// Split-K matrix-vector product ("splitk" variant of src/ops/matmul.ts) for GPUs, selected on non-CPU adapters
// for small M (decode). A workgroup of WG invocations computes R = 4 outputs (W rows n0..n0+3) of one X row:
// invocation t walks K in steps of 8·WG (with VEC: one vec4 pair of X and of each W row per step, so neighbouring
// invocations read neighbouring 32-byte chunks), keeps 4 partial sums, and the workgroup adds them up with a
// shared-memory tree (log2(WG) barriers). The tree is used rather than subgroupAdd because WebGPU does not promise
// which invocations form a subgroup, so the per-subgroup partials could not be placed without `subgroup_id`.
//
// Dispatch: [ceil(N / 4), M, batches]. WG must be a power of two, at most 256.
#include "matmul-common.wgsl"

override WG: u32 = 128u;
const R = 4u;

var<workgroup> part: array<vec4f, 256>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) t: u32) {
  let b = wg.z;
  let m = wg.y;
  let n0 = wg.x * R;
  let xr = x_row(b, m);
  let w0 = w_row(b, n0);
  let w1 = w_row(b, n0 + 1u);
  let w2 = w_row(b, n0 + 2u);
  let w3 = w_row(b, n0 + 3u);
  var acc = vec4f(0.0);
  for (var k = t * 8u; k < P.K; k += WG * 8u) {
#if VEC
    let x0 = vec4f(X[xr + k], X[xr + k + 1u], X[xr + k + 2u], X[xr + k + 3u]);
    let x1 = vec4f(X[xr + k + 4u], X[xr + k + 5u], X[xr + k + 6u], X[xr + k + 7u]);
#else
    let x0 = vec4f(x_elem(xr, k), x_elem(xr, k + 1u), x_elem(xr, k + 2u), x_elem(xr, k + 3u));
    let x1 = vec4f(x_elem(xr, k + 4u), x_elem(xr, k + 5u), x_elem(xr, k + 6u), x_elem(xr, k + 7u));
#endif
    let a = w_block8(w0, k);
    let c = w_block8(w1, k);
    let d = w_block8(w2, k);
    let e = w_block8(w3, k);
    acc += vec4f(dot(x0, a[0]) + dot(x1, a[1]), dot(x0, c[0]) + dot(x1, c[1]),
                 dot(x0, d[0]) + dot(x1, d[1]), dot(x0, e[0]) + dot(x1, e[1]));
  }
  part[t] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (t < s) { part[t] += part[t + s]; }
    workgroupBarrier();
  }
  if (t < R) {
    store_y(b, m, n0 + t, part[0][t]);
  }
}
