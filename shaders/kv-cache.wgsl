#if F16
enable f16;
#endif
// KV cache maintenance. Cache layout: [beams, kvHeads, maxSeq, headDim], so one (beam, kv head) is a
// contiguous run of maxSeq rows and decode attention streams it linearly.
//
//   write_kv (default):  k/v rows [beams * tokens, kvHeads, headDim] f32 -> cache positions pos .. pos+tokens-1
//                        (converted to f16 when KV_F16). One invocation per vec4.
//                        ROWS: one token per row, row r to slot rows[r].x at position rows[r].y (a batched
//                        decode step: every row its own slot and position; the table of attention-decode.wgsl).
//   reorder  (REORDER):  dst[b] <- src[index[b]] for positions [first, pos) of K and V, copied as raw u32
//                        words (dtype-agnostic). IDENTITY copies dst[b] <- src[b] (the copy back).
// Dispatch: ceil(n / WG) workgroups folded by grid().
#include "common.wgsl"

override WG: u32 = 256u;

#if KV_F16
alias KV = f16;
#else
alias KV = f32;
#endif

#if !REORDER
struct Params {
  n: u32,         // vec4 elements per input tensor = beams * tokens * kvHeads * D4
  tokens: u32,
  kv_heads: u32,
  d4: u32,
  max_seq: u32,
  pos: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> k_in: array<vec4f>;
@group(0) @binding(2) var<storage, read> v_in: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> k_cache: array<vec4<KV>>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<vec4<KV>>;
#if ROWS
@group(0) @binding(5) var<storage, read> rows: array<vec4u>;              // [rows]: slot, pos, chunk, 0
#endif

@compute @workgroup_size(WG)
fn write_kv(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let e = flat_workgroup(wg, nwg) * WG + lid;
  if (e >= P.n) { return; }
  let d = e % P.d4;
  let r = e / P.d4;               // (beam * tokens + t) * kvHeads + h
  let h = r % P.kv_heads;
  let bt = r / P.kv_heads;
#if ROWS
  let slot = rows[bt].x;
  let at = rows[bt].y;
#else
  let slot = bt / P.tokens;
  let at = P.pos + bt % P.tokens;
#endif
  let dst = ((slot * P.kv_heads + h) * P.max_seq + at) * P.d4 + d;
  k_cache[dst] = vec4<KV>(k_in[e]);
  v_cache[dst] = vec4<KV>(v_in[e]);
}
#else
struct Params {
  n: u32,          // words to copy per tensor = beams * kvHeads * span * row_words
  beams: u32,
  kv_heads: u32,
  row_words: u32,  // u32 words per cache row (headDim for f32, headDim / 2 for f16)
  max_seq: u32,
  first: u32,      // first position to copy
  span: u32,       // pos - first
}
@group(0) @binding(0) var<uniform> P: Params;
#if !IDENTITY
@group(0) @binding(1) var<storage, read> index: array<u32>;
@group(0) @binding(2) var<storage, read> k_src: array<u32>;
@group(0) @binding(3) var<storage, read> v_src: array<u32>;
@group(0) @binding(4) var<storage, read_write> k_dst: array<u32>;
@group(0) @binding(5) var<storage, read_write> v_dst: array<u32>;
#else
@group(0) @binding(1) var<storage, read> k_src: array<u32>;
@group(0) @binding(2) var<storage, read> v_src: array<u32>;
@group(0) @binding(3) var<storage, read_write> k_dst: array<u32>;
@group(0) @binding(4) var<storage, read_write> v_dst: array<u32>;
#endif

@compute @workgroup_size(WG)
fn reorder(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32) {
  let e = flat_workgroup(wg, nwg) * WG + lid;
  if (e >= P.n) { return; }
  let per_head = P.span * P.row_words;
  let w = e % per_head;
  let r = e / per_head;            // beam * kvHeads + h
  let h = r % P.kv_heads;
  let b = r / P.kv_heads;
#if IDENTITY
  let src_b = b;
#else
  // An out-of-range source beam is clamped rather than read out of bounds.
  let src_b = min(index[b], P.beams - 1u);
#endif
  let off = P.first * P.row_words + w;
  let dst = (b * P.kv_heads + h) * P.max_seq * P.row_words + off;
  let src = (src_b * P.kv_heads + h) * P.max_seq * P.row_words + off;
  k_dst[dst] = k_src[src];
  v_dst[dst] = v_src[src];
}
#endif
