// Element-wise kernels over flat f32 arrays: residual add, GELU, SiLU×mul.
// Dispatch: ceil(n / 256) workgroups folded by grid(); bounds-checked.
#include "common.wgsl"

struct Params { n: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
#if UNARY
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#endif

override WG: u32 = 256;

fn index(wg: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return flat_workgroup(wg, nwg) * WG + lid;
}

#if UNARY
@compute @workgroup_size(WG)
fn gelu(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, nwg, lid);
  if (i < P.n) { out[i] = gelu_erf(a[i]); }
}
#else
@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, nwg, lid);
  if (i < P.n) { out[i] = a[i] + b[i]; }
}

// out = silu(a) * b  (the SwiGLU gate)
@compute @workgroup_size(WG)
fn silu_mul(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, nwg, lid);
  if (i < P.n) { out[i] = silu(a[i]) * b[i]; }
}
#endif
