// Dtype conversion of flat arrays: bf16 | f16 | f32  →  f32 | f16 (native) | f16 packed in u32.
//
// Sources:  SRC_F32 → array<f32>; otherwise array<u32> holding two 16-bit values per word, little-endian
//           (element 2i in the low half), either bf16 (SRC_BF16) or IEEE half (neither define).
// Entries:  to_f32        dst array<f32>
//           to_f16        dst array<f16> (needs F16)
//           to_f16_packed dst array<u32>, two halves per word; works without shader-f16. Edge words that are
//                         only partly inside [dstBase, dstBase + count) are read-modify-written, so any element
//                         offset and any (odd) count work and neighbouring elements are kept.
// All f32 → f16 rounding is done with integer arithmetic (round to nearest even, overflow → ±inf, subnormals
// kept), so every backend gives the same bits as torch's `.to(torch.float16)` and the host f32ToF16Bits.
// Dispatch: one workgroup per WG·PER elements (or words), folded by grid(); bounds-checked.
#if F16
enable f16;
#endif
#include "common.wgsl"

struct Params {
  count: u32,    // elements to convert
  srcBase: u32,  // first source element, relative to the source binding
  dstBase: u32,  // first destination element, relative to the destination binding
}
@group(0) @binding(0) var<uniform> P: Params;

#if SRC_F32
@group(0) @binding(1) var<storage, read> src: array<f32>;
#else
#if VEC
@group(0) @binding(1) var<storage, read> src: array<vec4u>;
#else
@group(0) @binding(1) var<storage, read> src: array<u32>;
#endif
#endif

override WG: u32 = 256;
const PER: u32 = 4u;

// IEEE half bits (low 16 bits of h) → f32, exact.
fn half_bits_to_f32(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) {
    // zero or subnormal: m · 2^-24 is exact in f32 (and a normal f32 when m > 0)
    return bitcast<f32>(sign | bitcast<u32>(f32(m) * 5.9604644775390625e-8));
  }
  if (e == 31u) {
    return bitcast<f32>(sign | 0x7f800000u | (m << 13u));
  }
  return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}

// f32 → IEEE half bits, round to nearest even; overflow gives ±inf, NaN stays NaN.
fn f32_to_half_bits(f: f32) -> u32 {
  let b = bitcast<u32>(f);
  let sign = (b >> 16u) & 0x8000u;
  let exp = (b >> 23u) & 0xffu;
  var mant = b & 0x7fffffu;
  if (exp == 0xffu) {
    return sign | 0x7c00u | select(0u, 0x200u, mant != 0u);
  }
  let e = i32(exp) - 112;
  if (e >= 31) {
    return sign | 0x7c00u;
  }
  if (e <= 0) {
    if (e < -10) {
      return sign;
    }
    mant = mant | 0x800000u;
    let shift = u32(14 - e);
    var h = mant >> shift;
    let rem = mant & ((1u << shift) - 1u);
    let mid = 1u << (shift - 1u);
    if (rem > mid || (rem == mid && (h & 1u) == 1u)) {
      h += 1u;
    }
    return sign | h;
  }
  var h = (u32(e) << 10u) | (mant >> 13u);
  let rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) {
    h += 1u; // a carry out of the mantissa correctly bumps the exponent (up to inf)
  }
  return sign | h;
}

#if !VEC
// Source element e (relative to P.srcBase) as f32.
fn load_src(e: u32) -> f32 {
  let s = P.srcBase + e;
#if SRC_F32
  return src[s];
#else
  let bits = (src[s >> 1u] >> ((s & 1u) * 16u)) & 0xffffu;
#if SRC_BF16
  return bitcast<f32>(bits << 16u);
#else
  return half_bits_to_f32(bits);
#endif
#endif
}

#endif

fn first_index(wg: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return flat_workgroup(wg, nwg) * WG * PER + lid;
}

#if TO_F32
#if !VEC
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn to_f32(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let e0 = first_index(wg, nwg, lid);
  for (var j = 0u; j < PER; j++) {
    let e = e0 + j * WG;
    if (e < P.count) { dst[P.dstBase + e] = load_src(e); }
  }
}
#endif
#endif

#if TO_F16
#if !VEC
@group(0) @binding(2) var<storage, read_write> dst: array<f16>;

@compute @workgroup_size(WG)
fn to_f16(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let e0 = first_index(wg, nwg, lid);
  for (var j = 0u; j < PER; j++) {
    let e = e0 + j * WG;
    if (e < P.count) { dst[P.dstBase + e] = bitcast<vec2<f16>>(f32_to_half_bits(load_src(e))).x; }
  }
}
#endif
#endif

#if TO_F16_PACKED
#if !VEC
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

// One invocation per destination word; word i covers destination elements 2·(w0 + i) and 2·(w0 + i) + 1.
@compute @workgroup_size(WG)
fn to_f16_packed(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let w0 = P.dstBase >> 1u;
  let wEnd = (P.dstBase + P.count + 1u) >> 1u;
  let i0 = first_index(wg, nwg, lid);
  for (var j = 0u; j < PER; j++) {
    let w = w0 + i0 + j * WG;
    if (w >= wEnd) { continue; }
    let d0 = 2u * w; // destination element in the low half
    let lo_in = d0 >= P.dstBase && d0 < P.dstBase + P.count;
    let hi_in = d0 + 1u >= P.dstBase && d0 + 1u < P.dstBase + P.count;
    var word = 0u;
    if (!(lo_in && hi_in)) { word = dst[w]; } // edge word: keep the half that is not ours
    if (lo_in) { word = (word & 0xffff0000u) | f32_to_half_bits(load_src(d0 - P.dstBase)); }
    if (hi_in) { word = (word & 0x0000ffffu) | (f32_to_half_bits(load_src(d0 + 1u - P.dstBase)) << 16u); }
    dst[w] = word;
  }
}
#endif
#endif

// ---- aligned body: 8 elements per vec4 source word group (bf16/f16 source only) ------------------------------
// VEC: src is array<vec4u> (8 halves); P.srcBase, P.dstBase are in vec4 units and P.count counts groups of 8.
#if VEC
fn halves_to_f32(w: u32, hi: bool) -> f32 {
  let bits = select(w & 0xffffu, w >> 16u, hi);
#if SRC_BF16
  return bitcast<f32>(bits << 16u);
#else
  return half_bits_to_f32(bits);
#endif
}

fn group_f32(q: vec4u) -> array<vec4f, 2> {
  return array<vec4f, 2>(
    vec4f(halves_to_f32(q.x, false), halves_to_f32(q.x, true), halves_to_f32(q.y, false), halves_to_f32(q.y, true)),
    vec4f(halves_to_f32(q.z, false), halves_to_f32(q.z, true), halves_to_f32(q.w, false), halves_to_f32(q.w, true)));
}

#if TO_F32
@group(0) @binding(2) var<storage, read_write> dst: array<vec4f>;

@compute @workgroup_size(WG)
fn to_f32_vec(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let g0 = first_index(wg, nwg, lid);
  for (var j = 0u; j < PER; j++) {
    let g = g0 + j * WG;
    if (g < P.count) {
      let v = group_f32(src[P.srcBase + g]);
      dst[P.dstBase + 2u * g] = v[0];
      dst[P.dstBase + 2u * g + 1u] = v[1];
    }
  }
}
#endif

#if TO_F16_PACKED
@group(0) @binding(2) var<storage, read_write> dst: array<vec4u>;

fn pack_pair(a: f32, b: f32) -> u32 {
  return f32_to_half_bits(a) | (f32_to_half_bits(b) << 16u);
}

@compute @workgroup_size(WG)
fn to_f16_packed_vec(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let g0 = first_index(wg, nwg, lid);
  for (var j = 0u; j < PER; j++) {
    let g = g0 + j * WG;
    if (g < P.count) {
      let v = group_f32(src[P.srcBase + g]);
      dst[P.dstBase + g] = vec4u(pack_pair(v[0].x, v[0].y), pack_pair(v[0].z, v[0].w), pack_pair(v[1].x, v[1].y),
        pack_pair(v[1].z, v[1].w));
    }
  }
}
#endif
#endif
