// LayerNorm / RMSNorm over the last axis of x[rows, d] (f32), one workgroup per row, optionally fused with
// the residual add that precedes every norm in a pre-norm transformer:  res = x + r;  y = norm(res).
//
// Defines:  RMS       y = w · (v · inverseSqrt(mean(v²) + eps))               (else LayerNorm with bias:
//                     y = (v − mean) · inverseSqrt(var + eps) · w + b, corrected two-pass mean/variance, f32)
//           RESIDUAL  v = x + r, also stored to `res`
//           INPLACE   x is read_write: without RESIDUAL y overwrites x; with RESIDUAL res overwrites x
//           VEC4      every array is read as vec4 (d and all offsets are multiples of 4; offsets and d are then
//                     given in vec4 units): fewer, wider loads — ~1.4× faster on lavapipe
//           SUBGROUPS reductions with subgroupAdd (else a workgroup tree)
// Bindings (in order): x, [r], w, [b], [y], [res]   — y is absent for plain INPLACE, res for RESIDUAL+INPLACE.
// Dispatch: one workgroup per row, folded by grid() (rows up to millions); WG a power of two in [32, 256].
#if SUBGROUPS
enable subgroups;
#endif
#include "common.wgsl"

#if VEC4
alias V = vec4f;
fn hsum(v: V) -> f32 { return dot(v, vec4f(1.0)); }
#else
alias V = f32;
fn hsum(v: V) -> f32 { return v; }
#endif

struct Params {
  rows: u32,
  d: u32,       // row length in elements (of V: elements / 4 with VEC4)
  eps: f32,
  xBase: u32,   // element offsets of the data inside each binding
  rBase: u32,
  wBase: u32,
  bBase: u32,
  yBase: u32,
  resBase: u32,
}
@group(0) @binding(0) var<uniform> P: Params;

#if INPLACE
@group(0) @binding(1) var<storage, read_write> x: array<V>;
#else
@group(0) @binding(1) var<storage, read> x: array<V>;
#endif

#if RESIDUAL
@group(0) @binding(2) var<storage, read> r: array<V>;
@group(0) @binding(3) var<storage, read> w: array<V>;
#if RMS
@group(0) @binding(4) var<storage, read_write> y: array<V>;
#if !INPLACE
@group(0) @binding(5) var<storage, read_write> res: array<V>;
#endif
#else
@group(0) @binding(4) var<storage, read> b: array<V>;
@group(0) @binding(5) var<storage, read_write> y: array<V>;
#if !INPLACE
@group(0) @binding(6) var<storage, read_write> res: array<V>;
#endif
#endif
#else
@group(0) @binding(2) var<storage, read> w: array<V>;
#if RMS
#if !INPLACE
@group(0) @binding(3) var<storage, read_write> y: array<V>;
#endif
#else
@group(0) @binding(3) var<storage, read> b: array<V>;
#if !INPLACE
@group(0) @binding(4) var<storage, read_write> y: array<V>;
#endif
#endif
#endif

override WG: u32 = 256;

#include "reduce.wgsl"

// ---- accessors ------------------------------------------------------------------------------------------------
// The (residual-added) input value of element i of the row starting at element `row` (row·d).
fn load_in(row: u32, i: u32) -> V {
#if RESIDUAL
  return x[P.xBase + row + i] + r[P.rBase + row + i];
#else
  return x[P.xBase + row + i];
#endif
}

// Re-read of the value produced by load_in (after store_res stored it).
fn reload(row: u32, i: u32) -> V {
#if RESIDUAL
#if INPLACE
  return x[P.xBase + row + i];
#else
  return res[P.resBase + row + i];
#endif
#else
  return x[P.xBase + row + i];
#endif
}

fn store_res(row: u32, i: u32, v: V) {
#if RESIDUAL
#if INPLACE
  x[P.xBase + row + i] = v;
#else
  res[P.resBase + row + i] = v;
#endif
#endif
}

fn store_y(row: u32, i: u32, v: V) {
#if INPLACE
#if RESIDUAL
  y[P.yBase + row + i] = v;
#else
  x[P.xBase + row + i] = v;
#endif
#else
  y[P.yBase + row + i] = v;
#endif
}

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
  let rowIndex = flat_workgroup(wg, nwg);
  if (rowIndex >= P.rows) { return; } // uniform per workgroup: the barriers below stay in uniform control flow
  let row = rowIndex * P.d;
#if VEC4
  let n = f32(P.d * 4u);
#else
  let n = f32(P.d);
#endif

#if RMS
  var ss = V(0.0);
  for (var i = lid; i < P.d; i += WG) {
    let v = load_in(row, i);
    store_res(row, i, v);
    ss += v * v;
  }
  let inv = inverseSqrt(wg_sum(vec2f(hsum(ss), 0.0), lid, sg).x / n + P.eps);
  for (var i = lid; i < P.d; i += WG) {
    store_y(row, i, w[P.wBase + i] * (reload(row, i) * inv));
  }
#else
  // Corrected two-pass (Chan, Golub & LeVeque): the second pass also sums the centred values, whose total c
  // would be 0 in exact arithmetic; var = (Σ(v−mean0)² − c²/d)/d and mean = mean0 + c/d remove the rounding
  // error of the first-pass mean, which matters when |mean| ≫ std.
  var s = V(0.0);
  for (var i = lid; i < P.d; i += WG) {
    let v = load_in(row, i);
    store_res(row, i, v);
    s += v;
  }
  let mean0 = wg_sum(vec2f(hsum(s), 0.0), lid, sg).x / n;
  var a1 = V(0.0);
  var a2 = V(0.0);
  for (var i = lid; i < P.d; i += WG) {
    let c = reload(row, i) - mean0;
    a1 += c;
    a2 += c * c;
  }
  let t = wg_sum(vec2f(hsum(a1), hsum(a2)), lid, sg);
  // The mean is kept as mean0 + corr (an f32 alone cannot hold it to better than ulp(mean)/2); v − mean0 is
  // exact when v and mean0 are within a factor of 2 (Sterbenz), so centring loses almost nothing.
  let corr = t.x / n;
  let inv = inverseSqrt(max(t.y - t.x * corr, 0.0) / n + P.eps);
  for (var i = lid; i < P.d; i += WG) {
    store_y(row, i, ((reload(row, i) - mean0) - corr) * inv * w[P.wBase + i] + b[P.bBase + i]);
  }
#endif
}
