// Workgroup reductions shared by the one-row-per-workgroup kernels (norm, softmax, sample). Include after the
// kernel's `override WG` (a power of two ≤ 256); with SUBGROUPS the kernel enables subgroups.
// Subgroups are taken to be consecutive runs of local_invocation_index (true on every implementation; WGSL only
// promises it with the subgroup_id extension). Subgroup size ≥ 4 → at most 64 slots.
// Every reduction ends with a barrier, so the slots can be reused by the next one.

// Finite stand-in for −inf as a running max: exp(x − LOWEST) never overflows and −inf inputs add exp(−inf) = 0.
const LOWEST: f32 = -3.4028234663852886e38;

// A (max, Σ exp(x − max)) pair after one more value: the online log-sum-exp.
fn lse_push(a: vec2f, v: f32) -> vec2f {
  if (v > a.x) { return vec2f(v, a.y * exp(a.x - v) + 1.0); }
  return vec2f(a.x, a.y + exp(v - a.x));
}

// Merge two (max, Σ exp(x − max)) pairs.
fn lse_merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

#if SUBGROUPS
var<workgroup> red: array<vec2f, 64>;

// Sum of a vec2 over the workgroup.
fn wg_sum(v: vec2f, lid: u32, sg: u32) -> vec2f {
  let s = subgroupAdd(v);
  if (lid % sg == 0u) { red[lid / sg] = s; }
  workgroupBarrier();
  var t = vec2f(0.0);
  let n = (WG + sg - 1u) / sg;
  for (var i = 0u; i < n; i++) { t += red[i]; }
  workgroupBarrier();
  return t;
}

// Merge of (max, Σ exp) pairs over the workgroup.
fn wg_lse(v: vec2f, lid: u32, sg: u32) -> vec2f {
  let m = subgroupMax(v.x);
  let s = subgroupAdd(v.y * exp(v.x - m));
  if (lid % sg == 0u) { red[lid / sg] = vec2f(m, s); }
  workgroupBarrier();
  var t = red[0];
  let n = (WG + sg - 1u) / sg;
  for (var i = 1u; i < n; i++) { t = lse_merge(t, red[i]); }
  workgroupBarrier();
  return t;
}
#else
var<workgroup> red: array<vec2f, WG>;

fn wg_sum(v: vec2f, lid: u32, sg: u32) -> vec2f {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let t = red[0];
  workgroupBarrier();
  return t;
}

fn wg_lse(v: vec2f, lid: u32, sg: u32) -> vec2f {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = lse_merge(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let t = red[0];
  workgroupBarrier();
  return t;
}
#endif
