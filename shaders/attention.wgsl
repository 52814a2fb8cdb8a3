#if F16
enable f16;
#endif
// Fused ("flash") attention with an online softmax. No score matrix is written anywhere: every query keeps its
// running max m, running sum l and output row acc in registers (private memory) while it walks the keys, and
// out = acc / l at the end. Scores are kept in base 2 (q is pre-multiplied by scale * log2 e; exp2 throughout).
//
// One kernel serves
//   * the encoder's window attention: groups = windows, q/k/v/out = [groups * lq, heads, headDim]
//     (k_row = heads*D4, k_head = D4, k_group = lq*heads*D4), bidirectional, optional sliding window / causal;
//   * the decoder's prefill: groups = beams, q/out = [beams * T, qHeads, headDim], keys read straight from a
//     KV cache [beams, kvHeads, maxSeq, headDim] (k_row = D4, k_head = maxSeq*D4, k_group = kvHeads*maxSeq*D4),
//     causal with the queries at absolute positions pos0 .. pos0+T-1 and grouped-query heads (kv head = h / group).
//
// Two variants (same bindings and parameters):
//   default (CPU backends: lavapipe, SwiftShader): QPT = 4 queries per invocation, keys read directly from the
//     storage buffers 4 at a time (every invocation reads the same key, so it is one broadcast load), no workgroup
//     memory and no barriers at all. Loop bounds are runtime values so the CPU JIT does not unroll them (fully
//     unrolled versions took 10-60 s to compile on lavapipe and ran no faster).
//     Queries per workgroup: BQ * QPT; invocation t owns queries i0 + t, i0 + BQ + t, i0 + 2 BQ + t, i0 + 3 BQ + t.
//   STAGED (GPUs): one query per invocation, BQ queries per workgroup; the workgroup stages BK keys (K and V) in
//     workgroup memory (2 barriers per key block, 2 x BK x headDim x 4 bytes <= 16 KiB), scores the block into a
//     private array, rescales the accumulator once per block. Loop bounds are override constants (unrolled).
//
// Dispatch: [q_blocks * groups, heads, 1] workgroups of BQ invocations; q_blocks = ceil(lq / queries per workgroup).
// Offsets are in vec4 units, so headDim must be a multiple of 4 (D4 = headDim / 4 <= MAX_D4).
#include "common.wgsl"

// Invocations per workgroup.
override BQ: u32 = 32u;
// STAGED: headDim / 4 (the default variant takes it at run time, P.d4: one pipeline serves every head size).
override D4: u32 = 16u;
// STAGED: keys per staged block; a multiple of 4, BK / 4 <= MAX_BK4, BK * D4 vec4s per tile.
override BK: u32 = 32u;

const MAX_D4: u32 = 32u;   // headDim <= 128
const MAX_BK4: u32 = 16u;  // BK <= 64
// Running-max start value and the score given to masked keys: finite (WGSL leaves infinities to the
// implementation) and far enough apart that exp2(MASKED - m) is exactly 0 for every running max m >= M_INIT.
const M_INIT: f32 = -1.0e30;
const MASKED: f32 = -3.0e38;

const FLAG_CAUSAL: u32 = 1u;
const FLAG_SLIDING: u32 = 2u;

struct Params {
  lq: u32,          // queries per group
  lk: u32,          // keys per group (rows 0 .. lk-1, at positions 0 .. lk-1)
  q_blocks: u32,    // workgroups per group along the queries
  heads: u32,       // query heads
  group_size: u32,  // query heads per kv head
  k_row: u32,       // vec4 stride between consecutive keys
  k_head: u32,      // vec4 stride between kv heads
  k_group: u32,     // vec4 stride between groups
  pos0: u32,        // absolute position of query 0
  flags: u32,       // FLAG_CAUSAL | FLAG_SLIDING
  window: u32,      // sliding window: key j is visible to query position p when |p - j| <= window
  scale: f32,       // softmax scale * log2(e)
  d4: u32,          // headDim / 4 (the default variant's loop bound and row stride)
}

#if KV_F16
alias KV = f16;
#else
alias KV = f32;
#endif

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4f>;
@group(0) @binding(2) var<storage, read> k: array<vec4<KV>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<KV>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4f>;

// Keys [x, y) that any query at positions [qlo, qhi] may see (uniform across the workgroup).
fn key_range(qlo: u32, qhi: u32) -> vec2u {
  var k_end = P.lk;
  var k_beg = 0u;
  if ((P.flags & FLAG_CAUSAL) != 0u) { k_end = min(k_end, qhi + 1u); }
  if ((P.flags & FLAG_SLIDING) != 0u) {
    k_end = min(k_end, qhi + P.window + 1u);
    k_beg = select(0u, qlo - P.window, qlo > P.window);
  }
  return vec2u(k_beg, k_end);
}

// Which of the four keys j are visible to the query at position qpos (j < k_end is checked by the caller).
fn visible(j: vec4u, qpos: u32) -> vec4<bool> {
  var ok = vec4<bool>(true);
  if ((P.flags & FLAG_CAUSAL) != 0u) { ok = ok & (j <= vec4u(qpos)); }
  if ((P.flags & FLAG_SLIDING) != 0u) {
    ok = ok & (j + vec4u(P.window) >= vec4u(qpos)) & (j <= vec4u(qpos + P.window));
  }
  return ok;
}

fn vmax4(s: vec4f) -> f32 {
  return max(max(s.x, s.y), max(s.z, s.w));
}

fn vsum4(p: vec4f) -> f32 {
  return (p.x + p.y) + (p.z + p.w);
}

#if !STAGED
const QPT: u32 = 4u;

@compute @workgroup_size(BQ)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) t: u32) {
  let grp = wg.x / P.q_blocks;
  let i0 = (wg.x % P.q_blocks) * (BQ * QPT);
  let h = wg.y;
  let kh = h / P.group_size;
  let d4 = P.d4;
  let last = P.lq - 1u;

  // Queries of this invocation (past-the-end ones are clamped, computed and not stored).
  let ia = i0 + t;
  let ib = ia + BQ;
  let ic = ib + BQ;
  let id = ic + BQ;
  let pa = P.pos0 + min(ia, last);
  let pb = P.pos0 + min(ib, last);
  let pc = P.pos0 + min(ic, last);
  let pd = P.pos0 + min(id, last);
  let row = (grp * P.lq) * P.heads + h;
  let oa = (row + min(ia, last) * P.heads) * d4;
  let ob = (row + min(ib, last) * P.heads) * d4;
  let oc = (row + min(ic, last) * P.heads) * d4;
  let od = (row + min(id, last) * P.heads) * d4;

  var qa: array<vec4f, MAX_D4>;
  var qb: array<vec4f, MAX_D4>;
  var qc: array<vec4f, MAX_D4>;
  var qd: array<vec4f, MAX_D4>;
  var aa: array<vec4f, MAX_D4>;
  var ab: array<vec4f, MAX_D4>;
  var ac: array<vec4f, MAX_D4>;
  var ad: array<vec4f, MAX_D4>;
  for (var d = 0u; d < d4; d++) {
    qa[d] = q[oa + d] * P.scale;
    qb[d] = q[ob + d] * P.scale;
    qc[d] = q[oc + d] * P.scale;
    qd[d] = q[od + d] * P.scale;
  }
  var m = vec4f(M_INIT);   // running max of queries a, b, c, d
  var l = vec4f(0.0);      // running sums

  let kr = key_range(P.pos0 + i0, P.pos0 + min(i0 + BQ * QPT - 1u, last));
  let k_end = kr.y;
  let kv_base = grp * P.k_group + kh * P.k_head;
  for (var j0 = kr.x; j0 < k_end; j0 += 4u) {
    // Rows of keys j0 .. j0+3 (clamped into range; the clamped ones are masked below).
    let r0 = kv_base + j0 * P.k_row;
    let r1 = kv_base + min(j0 + 1u, k_end - 1u) * P.k_row;
    let r2 = kv_base + min(j0 + 2u, k_end - 1u) * P.k_row;
    let r3 = kv_base + min(j0 + 3u, k_end - 1u) * P.k_row;
    var sa = vec4f(0.0);
    var sb = vec4f(0.0);
    var sc = vec4f(0.0);
    var sd = vec4f(0.0);
    for (var d = 0u; d < d4; d++) {
      let k0 = vec4f(k[r0 + d]);
      let k1 = vec4f(k[r1 + d]);
      let k2 = vec4f(k[r2 + d]);
      let k3 = vec4f(k[r3 + d]);
      var x = qa[d];
      sa += vec4f(dot(x, k0), dot(x, k1), dot(x, k2), dot(x, k3));
      x = qb[d];
      sb += vec4f(dot(x, k0), dot(x, k1), dot(x, k2), dot(x, k3));
      x = qc[d];
      sc += vec4f(dot(x, k0), dot(x, k1), dot(x, k2), dot(x, k3));
      x = qd[d];
      sd += vec4f(dot(x, k0), dot(x, k1), dot(x, k2), dot(x, k3));
    }
    let j = vec4u(j0) + vec4u(0u, 1u, 2u, 3u);
    let in_range = j < vec4u(k_end);
    sa = select(vec4f(MASKED), sa, in_range & visible(j, pa));
    sb = select(vec4f(MASKED), sb, in_range & visible(j, pb));
    sc = select(vec4f(MASKED), sc, in_range & visible(j, pc));
    sd = select(vec4f(MASKED), sd, in_range & visible(j, pd));

    // Online softmax, one rescale per 4 keys.
    let m_new = max(m, vec4f(vmax4(sa), vmax4(sb), vmax4(sc), vmax4(sd)));
    let alpha = exp2(m - m_new);
    m = m_new;
    let ea = exp2(sa - m_new.x);
    let eb = exp2(sb - m_new.y);
    let ec = exp2(sc - m_new.z);
    let ed = exp2(sd - m_new.w);
    l = l * alpha + vec4f(vsum4(ea), vsum4(eb), vsum4(ec), vsum4(ed));
    for (var d = 0u; d < d4; d++) {
      let v0 = vec4f(v[r0 + d]);
      let v1 = vec4f(v[r1 + d]);
      let v2 = vec4f(v[r2 + d]);
      let v3 = vec4f(v[r3 + d]);
      aa[d] = aa[d] * alpha.x + (ea.x * v0 + ea.y * v1 + ea.z * v2 + ea.w * v3);
      ab[d] = ab[d] * alpha.y + (eb.x * v0 + eb.y * v1 + eb.z * v2 + eb.w * v3);
      ac[d] = ac[d] * alpha.z + (ec.x * v0 + ec.y * v1 + ec.z * v2 + ec.w * v3);
      ad[d] = ad[d] * alpha.w + (ed.x * v0 + ed.y * v1 + ed.z * v2 + ed.w * v3);
    }
  }

  // Every query sees at least one key (itself), so l >= 1.
  let inv = 1.0 / l;
  if (ia <= last) { for (var d = 0u; d < d4; d++) { out[oa + d] = aa[d] * inv.x; } }
  if (ib <= last) { for (var d = 0u; d < d4; d++) { out[ob + d] = ab[d] * inv.y; } }
  if (ic <= last) { for (var d = 0u; d < d4; d++) { out[oc + d] = ac[d] * inv.z; } }
  if (id <= last) { for (var d = 0u; d < d4; d++) { out[od + d] = ad[d] * inv.w; } }
}

#else
var<workgroup> k_tile: array<vec4f, BK * D4>;
var<workgroup> v_tile: array<vec4f, BK * D4>;

@compute @workgroup_size(BQ)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) t: u32) {
  let grp = wg.x / P.q_blocks;
  let i0 = (wg.x % P.q_blocks) * BQ;
  let h = wg.y;
  let kh = h / P.group_size;
  let last = P.lq - 1u;

  // This invocation's query (invocations past the end still stage tiles and pass barriers, but store nothing).
  let i = i0 + t;
  let qpos = P.pos0 + min(i, last);
  let o = ((grp * P.lq + min(i, last)) * P.heads + h) * D4;
  var qr: array<vec4f, MAX_D4>;
  for (var d = 0u; d < D4; d++) { qr[d] = q[o + d] * P.scale; }
  var acc: array<vec4f, MAX_D4>;
  var m = M_INIT;
  var l = 0.0;

  let kr = key_range(P.pos0 + i0, P.pos0 + min(i0 + BQ - 1u, last));
  let k_end = kr.y;
  let kv_base = grp * P.k_group + kh * P.k_head;
  for (var j0 = kr.x; j0 < k_end; j0 += BK) {
    // Stage keys j0 .. j0+BK-1 (zeros past k_end, so that 0 * padding never makes a NaN).
    for (var e = t; e < BK * D4; e += BQ) {
      let j = j0 + e / D4;
      var kk = vec4f(0.0);
      var vv = vec4f(0.0);
      if (j < k_end) {
        let a = kv_base + j * P.k_row + e % D4;
        kk = vec4f(k[a]);
        vv = vec4f(v[a]);
      }
      k_tile[e] = kk;
      v_tile[e] = vv;
    }
    workgroupBarrier();

    // Scores of this query against the block, 4 keys at a time, masked.
    var s: array<vec4f, MAX_BK4>;
    var m_blk = MASKED;
    for (var c = 0u; c < BK / 4u; c++) {
      let r = 4u * c * D4;
      var sv = vec4f(0.0);
      for (var d = 0u; d < D4; d++) {
        let x = qr[d];
        sv += vec4f(dot(x, k_tile[r + d]), dot(x, k_tile[r + D4 + d]),
                    dot(x, k_tile[r + 2u * D4 + d]), dot(x, k_tile[r + 3u * D4 + d]));
      }
      let j = vec4u(j0 + 4u * c) + vec4u(0u, 1u, 2u, 3u);
      sv = select(vec4f(MASKED), sv, (j < vec4u(k_end)) & visible(j, qpos));
      s[c] = sv;
      m_blk = max(m_blk, vmax4(sv));
    }

    // Online softmax: rescale once per block, then accumulate p * v.
    let m_new = max(m, m_blk);
    let alpha = exp2(m - m_new);
    m = m_new;
    l *= alpha;
    for (var d = 0u; d < D4; d++) { acc[d] *= alpha; }
    for (var c = 0u; c < BK / 4u; c++) {
      let p = exp2(s[c] - m_new);
      l += vsum4(p);
      let r = 4u * c * D4;
      for (var d = 0u; d < D4; d++) {
        acc[d] += p.x * v_tile[r + d] + p.y * v_tile[r + D4 + d] + p.z * v_tile[r + 2u * D4 + d] +
          p.w * v_tile[r + 3u * D4 + d];
      }
    }
    workgroupBarrier();
  }

  if (i <= last) {
    let inv = 1.0 / l;
    for (var d = 0u; d < D4; d++) { out[o + d] = acc[d] * inv; }
  }
}
#endif
