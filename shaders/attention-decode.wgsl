#if F16
enable f16;
#endif
// Decode attention over a KV cache [slots, kvHeads, maxSeq, headDim], split-K ("flash decoding"). One query
// row per table entry: rows[b] = (cache slot, position of the row's newest key, split-K chunk, 0), so the rows
// of a batched step each attend to their own slot and length (beams of one sequence: slots side by side, one
// length); the row attends to positions [0, pos + 1).
//
// split   (default): workgroup (chunk c, kv head kh, row b) takes cache positions [c*chunk, min((c+1)*chunk, len))
//          for all `group` query heads that share kv head kh (K/V rows are read once for the whole group) and
//          writes, per query head, a partial (m, l, acc[headDim]): m = max score of the chunk (base-2 units),
//          l = sum 2^(s - m), acc = sum 2^(s - m) v (unnormalised).
//          Query heads go four at a time packed in a vec4 (a "head quad"), so every K/V load feeds 16 FMAs.
//          Phases: scores (one cache position per invocation) -> per-head max -> exp2 -> sum, and p.V
//          (invocation t owns vec4 columns of a head quad). 4 barriers per workgroup.
//          WG = 8 on CPU backends (one SIMD width: each lane walks chunk/8 positions), 64 on GPUs.
// COMBINE: workgroup (query head h, beam b) merges the partials:
//          M = max m_c, out = sum acc_c 2^(m_c - M) / sum l_c 2^(m_c - M). No barriers.
// Loop bounds are runtime values (no unrolling: quick compiles on CPU JITs).
#include "common.wgsl"

override WG: u32 = 64u;
// Capacity of the score tile (positions per chunk); the dispatch's chunk is <= CHUNK.
override CHUNK: u32 = 256u;
// Head quads the tiles have room for: ceil(query heads per kv head / 4).
override G4: u32 = 1u;

const MAX_D4: u32 = 32u;      // headDim <= 128
const MASKED_MAX: f32 = -3.0e38;

#if KV_F16
alias KV = f16;
#else
alias KV = f32;
#endif

struct Params {
  n_chunks: u32,   // partials per (row, query head): the most chunks of any row (rows with fewer skip the rest)
  q_heads: u32,
  kv_heads: u32,
  group: u32,      // q_heads / kv_heads
  max_seq: u32,
  scale: f32,      // softmax scale * log2(e)
  d4: u32,         // headDim / 4
}
@group(0) @binding(0) var<uniform> P: Params;

// Valid positions and chunk of a row; a chunk past the row's end covers nothing (n = 0 below).
fn row_span(r: vec4u) -> vec2u {
  return vec2u(r.y + 1u, r.z);
}

#if !COMBINE
@group(0) @binding(1) var<storage, read> q: array<vec4f>;                 // [beams, q_heads, D4]
@group(0) @binding(2) var<storage, read> k: array<vec4<KV>>;              // [beams, kv_heads, max_seq, D4]
@group(0) @binding(3) var<storage, read> v: array<vec4<KV>>;
@group(0) @binding(4) var<storage, read> rows: array<vec4u>;              // [beams]: slot, pos, chunk, 0
@group(0) @binding(5) var<storage, read_write> part_acc: array<vec4f>;    // [beams, q_heads, n_chunks, D4]
@group(0) @binding(6) var<storage, read_write> part_ml: array<vec2f>;     // [beams, q_heads, n_chunks]

// Query heads are handled four at a time, packed in a vec4 ("head quad" hq = heads 4hq .. 4hq+3).
var<workgroup> q_tile: array<vec4f, G4 * 4u * MAX_D4>;   // [4*G4 heads][D4], pre-scaled; zero rows past `group`
var<workgroup> s_tile: array<vec4f, CHUNK * G4>;         // [CHUNK][G4]: scores, then probabilities
var<workgroup> m_tile: array<vec4f, G4>;                 // per-head chunk maximum

@compute @workgroup_size(WG)
fn split(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) t: u32) {
  let c = wg.x;
  let kh = wg.y;
  let b = wg.z;
  let d4 = P.d4;
  let group = P.group;
  let quads = (group + 3u) / 4u;
  let row = rows[b];
  let span = row_span(row);
  let j0 = c * span.y;
  // Loop bounds only (no early return: the barriers below stay in uniform control flow).
  let n = select(0u, min(span.y, span.x - j0), j0 < span.x);
  let qh0 = b * P.q_heads + kh * group;    // first query head (row-major index) of this group
  let kv_base = ((row.x * P.kv_heads + kh) * P.max_seq + j0) * d4;

  for (var e = t; e < quads * 4u * d4; e += WG) {
    let g = e / d4;
    var x = vec4f(0.0);
    if (g < group) { x = q[qh0 * d4 + e] * P.scale; }
    q_tile[e] = x;
  }
  workgroupBarrier();

  // Scores: one cache position per invocation, a head quad at a time.
  for (var j = t; j < n; j += WG) {
    let at = kv_base + j * d4;
    for (var hq = 0u; hq < quads; hq++) {
      let r = 4u * hq * d4;
      var sv = vec4f(0.0);
      for (var d = 0u; d < d4; d++) {
        let kk = vec4f(k[at + d]);
        sv += vec4f(dot(q_tile[r + d], kk), dot(q_tile[r + d4 + d], kk), dot(q_tile[r + 2u * d4 + d], kk),
          dot(q_tile[r + 3u * d4 + d], kk));
      }
      s_tile[j * G4 + hq] = sv;
    }
  }
  workgroupBarrier();

  // Per-head maximum over the chunk (short serial scans, one head quad per invocation; n <= CHUNK).
  for (var hq = t; hq < quads; hq += WG) {
    var mx = vec4f(MASKED_MAX);
    for (var j = 0u; j < n; j++) { mx = max(mx, s_tile[j * G4 + hq]); }
    m_tile[hq] = mx;
  }
  workgroupBarrier();

  for (var e = t; e < n * quads; e += WG) {
    let j = e / quads;
    let hq = e % quads;
    s_tile[j * G4 + hq] = exp2(s_tile[j * G4 + hq] - m_tile[hq]);
  }
  workgroupBarrier();

  for (var hq = t; hq < quads; hq += WG) {
    var l = vec4f(0.0);
    for (var j = 0u; j < n; j++) { l += s_tile[j * G4 + hq]; }
    let m = m_tile[hq];
    for (var i = 0u; i < 4u; i++) {
      let g = 4u * hq + i;
      if (g < group) { part_ml[(qh0 + g) * P.n_chunks + c] = vec2f(m[i], l[i]); }
    }
  }
  // p . V: invocation t owns vec4 columns t, t + WG, ... (< d4) of a head quad; each V element is read once
  // per head quad.
  for (var e = t; e < d4 * quads; e += WG) {
    let col = e % d4;
    let hq = e / d4;
    var a0 = vec4f(0.0);
    var a1 = vec4f(0.0);
    var a2 = vec4f(0.0);
    var a3 = vec4f(0.0);
    for (var j = 0u; j < n; j++) {
      let vv = vec4f(v[kv_base + j * d4 + col]);
      let p = s_tile[j * G4 + hq];
      a0 = fma(vec4f(p.x), vv, a0);
      a1 = fma(vec4f(p.y), vv, a1);
      a2 = fma(vec4f(p.z), vv, a2);
      a3 = fma(vec4f(p.w), vv, a3);
    }
    let g = 4u * hq;
    let o = ((qh0 + g) * P.n_chunks + c) * d4 + col;
    let stride = P.n_chunks * d4;   // between consecutive heads
    part_acc[o] = a0;
    if (g + 1u < group) { part_acc[o + stride] = a1; }
    if (g + 2u < group) { part_acc[o + 2u * stride] = a2; }
    if (g + 3u < group) { part_acc[o + 3u * stride] = a3; }
  }
}
#else
@group(0) @binding(1) var<storage, read> rows: array<vec4u>;
@group(0) @binding(2) var<storage, read> part_acc: array<vec4f>;
@group(0) @binding(3) var<storage, read> part_ml: array<vec2f>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4f>;        // [beams, q_heads, D4]

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) t: u32) {
  let d4 = P.d4;
  let bh = wg.y * P.q_heads + wg.x;
  let base = bh * P.n_chunks;
  let span = row_span(rows[wg.y]);
  let n_chunks = (span.x + span.y - 1u) / span.y;
  var mx = MASKED_MAX;
  for (var c = 0u; c < n_chunks; c++) { mx = max(mx, part_ml[base + c].x); }
  var l = 0.0;
  for (var c = 0u; c < n_chunks; c++) {
    let ml = part_ml[base + c];
    l += ml.y * exp2(ml.x - mx);
  }
  let inv = 1.0 / l;
  for (var d = t; d < d4; d += WG) {
    var acc = vec4f(0.0);
    for (var c = 0u; c < n_chunks; c++) {
      acc = fma(part_acc[(base + c) * d4 + d], vec4f(exp2(part_ml[base + c].x - mx)), acc);
    }
    out[bh * d4 + d] = acc * inv;
  }
}
#endif
