// Numerically stable softmax (or log-softmax) over the last axis of x[rows, n], f32, one workgroup per row.
// Each invocation keeps an online (max, sum of exp) pair over its strided elements; the pairs are merged
// across the workgroup, then every element is written: exp(x − m) / s   or   (x − m) − log(s).
// −inf inputs give 0 (log-softmax: −inf); a row that is entirely −inf gives NaN, as in torch.
//
// Defines:  LOG       log-softmax
//           INPLACE   x is read_write and overwritten (no y binding)
//           SUBGROUPS merge with subgroup operations (else a workgroup tree; reduce.wgsl)
// Bindings: x, [y].  Dispatch: one workgroup per row, folded by grid(); WG a power of two ≤ 256.
#if SUBGROUPS
enable subgroups;
#endif
#include "common.wgsl"

struct Params {
  rows: u32,
  n: u32,
  xBase: u32,
  yBase: u32,
}
@group(0) @binding(0) var<uniform> P: Params;

#if INPLACE
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#endif

override WG: u32 = 256;

#include "reduce.wgsl"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32
#if SUBGROUPS
      , @builtin(subgroup_size) sg: u32
#endif
) {
#if !SUBGROUPS
  let sg = 1u;
#endif
  let r = flat_workgroup(wg, nwg);
  if (r >= P.rows) { return; } // uniform per workgroup
  let xo = P.xBase + r * P.n;

  var acc = vec2f(LOWEST, 0.0);
  for (var i = lid; i < P.n; i += WG) { acc = lse_push(acc, x[xo + i]); }
  let t = wg_lse(acc, lid, sg);
#if LOG
  let ls = log(t.y);
#else
  let inv = 1.0 / t.y;
#endif

#if INPLACE
  let yo = xo;
#else
  let yo = P.yBase + r * P.n;
#endif
  for (var i = lid; i < P.n; i += WG) {
#if LOG
    let o = (x[xo + i] - t.x) - ls;
#else
    let o = exp(x[xo + i] - t.x) * inv;
#endif
#if INPLACE
    x[yo + i] = o;
#else
    y[yo + i] = o;
#endif
  }
}
