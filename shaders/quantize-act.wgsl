// Dynamic activation quantisation for the W8A8 matmul (matmul-int8.wgsl with A8): for every row m and group g of
// G consecutive inputs, s = max|x| / 127 and q = round(x · 127 / max|x|) (half to even, |q| ≤ 127; s = q = 0 for
// an all-zero group). Output buffer XQ (u32 words): rows of Kp / 4 words (4 int8 per word, byte 0 first; bytes
// past K are 0), then the f32 scales [M, groups] as bits from word s_off.
// One invocation per (row, group). Dispatch: ceil(M · groups / WG) workgroups, folded by grid().
// Defines: DOT4 (pack4xI8 builtin; else shifts).
#include "common.wgsl"

struct Params {
  M: u32,
  K: u32,
  groups: u32,
  G: u32,
  x_off: u32,
  ldx: u32,
  q_off: u32,
  ldq: u32,   // words per quantised row (Kp / 4)
  s_off: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Q: array<u32>;

override WG: u32 = 64u;

fn pack4(v: vec4i) -> u32 {
#if DOT4
  return pack4xI8(v);
#else
  let b = vec4u(bitcast<vec4u>(v) & vec4u(0xffu)) << vec4u(0u, 8u, 16u, 24u);
  return b.x | b.y | b.z | b.w;
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let id = flat_workgroup(wg, nwg) * WG + lid;
  if (id >= P.M * P.groups) { return; }
  let m = id / P.groups;
  let g = id % P.groups;
  let k0 = g * P.G;
  let k1 = min(P.K, k0 + P.G);
  let xr = P.x_off + m * P.ldx;
  var amax = 0.0;
  for (var k = k0; k < k1; k++) { amax = max(amax, abs(X[xr + k])); }
  Q[P.s_off + id] = bitcast<u32>(amax / 127.0);
  let inv = select(0.0, 127.0 / amax, amax > 0.0);
  let qr = P.q_off + m * P.ldq + k0 / 4u;
  for (var w = 0u; w < P.G / 4u; w++) {
    let k = k0 + 4u * w;
    let e = xr + min(k, P.K - 1u);
    let x = vec4f(X[e], X[min(e + 1u, xr + P.K - 1u)], X[min(e + 2u, xr + P.K - 1u)], X[min(e + 3u, xr + P.K - 1u)]);
    let inside = vec4u(k) + vec4u(0u, 1u, 2u, 3u) < vec4u(k1);
    let q = clamp(vec4i(round(x * inv)), vec4i(-127), vec4i(127));
    Q[qr + w] = pack4(select(vec4i(0), q, inside));
  }
}
