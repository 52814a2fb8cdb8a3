// Rotary position embedding, in place, on the first rotaryDim dims of every head (dims beyond pass through).
// Layout: token t, head h, dim j at element base + t·tokenStride + h·headDim + j, so q and k can live inside a
// fused QKV row (tokenStride = row width; q and k heads adjacent → one dispatch with heads = nq + nk).
//
// Half-split (rotate_half, HF Llama/GLM-ASR): pairs (i, i + rotaryDim/2)
//   y[i] = x[i]·cos − x[i+half]·sin,   y[i+half] = x[i+half]·cos + x[i]·sin
// INTERLEAVED instead pairs (2i, 2i+1) (the pre-2025-12 GLM-ASR checkpoint).
// Angle, in f32 exactly as PyTorch: a = f32(pos) · inv_freq[i]   (inv_freq computed on the host in f32, as
// torch does: 1 / theta^(2i/rotaryDim)); cos/sin of that f32 angle by our own Cody–Waite reduction + minimax
// polynomials (|a| ≤ 8192 keeps ~1 ulp), because WGSL's built-in sin/cos only promise 2^-11 absolute error on
// [−π, π] and nothing beyond it.
// Position: POS_BUFFER → positions[posBase + t]; else posOffset + (posModulo ? t % posModulo : t), where t
// counts tokens of the whole tensor (a dispatch over a later chunk passes tokenShift).
// Dispatch: one invocation per (token, pair), folded by grid(); each loops over the heads.
#include "common.wgsl"

struct Params {
  tokens: u32,
  heads: u32,
  headDim: u32,
  half: u32,        // rotaryDim / 2
  tokenStride: u32, // elements between consecutive tokens
  base: u32,        // element offset of token 0, head 0 inside the x binding
  posOffset: u32,
  posModulo: u32,   // 0: no modulo
  tokenShift: u32,  // index of this dispatch's first token in the whole tensor (mod posModulo)
  posBase: u32,
  invBase: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;
#if POS_BUFFER
@group(0) @binding(3) var<storage, read> positions: array<u32>;
#endif

override WG: u32 = 256;

// (sin a, cos a) for f32 a. Reduction by π/2 with a three-part constant (Cody–Waite; the first two parts have
// few significant bits so k·C1 and k·C2 are exact for |k| < 2^13), then minimax polynomials on [−π/4, π/4]
// (Cephes sinf/cosf coefficients) and quadrant selection.
fn sincos(a: f32) -> vec2f {
  let k = round(a * 0.63661977236758134);
  var r = a - k * 1.5703125;
  r = r - k * 4.837512969970703125e-4;
  r = r - k * 7.54978995489188216e-8;
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  let q = u32(i32(k) & 3);
  var sc = vec2f(s, c);
  if (q == 1u) { sc = vec2f(c, -s); }
  if (q == 2u) { sc = vec2f(-s, -c); }
  if (q == 3u) { sc = vec2f(-c, s); }
  return sc;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let g = flat_workgroup(wg, nwg) * WG + lid;
  if (g >= P.tokens * P.half) { return; }
  let t = g / P.half;
  let i = g % P.half;
#if POS_BUFFER
  let pos = positions[P.posBase + t];
#else
  var tp = t + P.tokenShift;
  if (P.posModulo != 0u) { tp = tp % P.posModulo; }
  let pos = P.posOffset + tp;
#endif
  let sc = sincos(f32(pos) * inv_freq[P.invBase + i]);
#if INTERLEAVED
  let j1 = 2u * i;
  let j2 = 2u * i + 1u;
#else
  let j1 = i;
  let j2 = i + P.half;
#endif
  var o = P.base + t * P.tokenStride;
  for (var h = 0u; h < P.heads; h++) {
    let x1 = x[o + j1];
    let x2 = x[o + j2];
    x[o + j1] = x1 * sc.y - x2 * sc.x;
    x[o + j2] = x2 * sc.y + x1 * sc.x;
    o += P.headDim;
  }
}
