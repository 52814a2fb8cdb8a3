// Top-k (k = 1: argmax) over the last axis of logits[rows, vocab], f32, in two stages.
//
// Order: a candidate (v, i) beats (w, j) when v > w, or v == w and i < j (ties → lowest index, like
// torch.argmax/topk); −inf is an ordinary value (below every finite one). The order is total, so the top k are
// found exactly by k selection rounds, each taking the best element that is worse than the previous pick.
// NaN logits are not supported.
//
// Stage 1 (entry `topk_partial`, workgroup (chunk, row)): the top k of one chunk of one row → cand[row][chunk][k] as
//   (bits of the value, index in the row); slots beyond the chunk's size hold index NONE. With LSE it also
//   writes the chunk's (max, Σ exp(x − max)) → stats[row][chunk].
// Stage 2 (entry `topk_final`, FINAL defined, one workgroup per group of `groupRows` rows): merges the groups'
//   candidates into the top k, sorted descending → outIdx/outVal[group][k]. Value of a candidate of row r:
//     LSE:  ((x − max_r) − log Σ_r) + bias[r]     (bias: BIAS, else 0) — log_softmax(x)[r] + beam score
//     else: x + bias[r]                            (bias: BIAS)
//   Index: groupRows > 1 → r·vocab + i (flattened over the group's rows, as beam search wants), else i.
//
// Defines: FINAL, LSE, BIAS, SUBGROUPS.
// Bindings: topk_partial: x, cand, [stats].  topk_final: cand, [stats], [bias], outIdx, outVal.
#if SUBGROUPS
enable subgroups;
#endif
#include "common.wgsl"

struct Params {
  rows: u32,
  vocab: u32,
  chunk: u32,     // elements per stage-1 workgroup
  chunks: u32,    // chunks per row
  k: u32,
  xBase: u32,
  groupRows: u32, // stage 2: rows merged per workgroup
  biasBase: u32,
  idxBase: u32,
  valBase: u32,
  negInfBits: u32, // 0xff800000: −inf cannot be a WGSL constant
}
@group(0) @binding(0) var<uniform> P: Params;

#if FINAL
@group(0) @binding(1) var<storage, read> cand: array<vec2u>;
#if LSE
@group(0) @binding(2) var<storage, read> stats: array<vec2f>;
#if BIAS
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> outIdx: array<u32>;
@group(0) @binding(5) var<storage, read_write> outVal: array<f32>;
#else
@group(0) @binding(3) var<storage, read_write> outIdx: array<u32>;
@group(0) @binding(4) var<storage, read_write> outVal: array<f32>;
#endif
#else
#if BIAS
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> outIdx: array<u32>;
@group(0) @binding(4) var<storage, read_write> outVal: array<f32>;
#else
@group(0) @binding(2) var<storage, read_write> outIdx: array<u32>;
@group(0) @binding(3) var<storage, read_write> outVal: array<f32>;
#endif
#endif
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> cand: array<vec2u>;
#if LSE
@group(0) @binding(3) var<storage, read_write> stats: array<vec2f>;
#endif
#endif

override WG: u32 = 256;
#include "reduce.wgsl"

const NONE: u32 = 0xffffffffu;

fn neg_inf() -> f32 {
  return bitcast<f32>(P.negInfBits);
}

// Does (av, ai) beat (bv, bi)? NONE never beats anything and loses to everything else.
fn beats(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
  return ai != NONE && (bi == NONE || av > bv || (av == bv && ai < bi));
}

// ---- workgroup arg-best of (value, index) ------------------------------------------------------------------
#if SUBGROUPS
// One slot per subgroup; subgroups are consecutive runs of local_invocation_index (see norm.wgsl).
var<workgroup> slotV: array<f32, 64>;
var<workgroup> slotI: array<u32, 64>;

fn wg_best(v: f32, i: u32, lid: u32, sg: u32) -> vec2u {
  let vv = select(neg_inf(), v, i != NONE);
  let m = subgroupMax(vv);
  let mi = subgroupMin(select(NONE, i, i != NONE && vv == m));
  if (lid % sg == 0u) {
    slotV[lid / sg] = m;
    slotI[lid / sg] = mi;
  }
  workgroupBarrier();
  var bv = slotV[0];
  var bi = slotI[0];
  let n = (WG + sg - 1u) / sg;
  for (var s = 1u; s < n; s++) {
    if (beats(slotV[s], slotI[s], bv, bi)) {
      bv = slotV[s];
      bi = slotI[s];
    }
  }
  workgroupBarrier(); // slots are reused by the next round
  return vec2u(bitcast<u32>(bv), bi);
}
#else
var<workgroup> slotV: array<f32, WG>;
var<workgroup> slotI: array<u32, WG>;

fn wg_best(v: f32, i: u32, lid: u32, sg: u32) -> vec2u {
  slotV[lid] = v;
  slotI[lid] = i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s && beats(slotV[lid + s], slotI[lid + s], slotV[lid], slotI[lid])) {
      slotV[lid] = slotV[lid + s];
      slotI[lid] = slotI[lid + s];
    }
    workgroupBarrier();
  }
  let r = vec2u(bitcast<u32>(slotV[0]), slotI[0]);
  workgroupBarrier();
  return r;
}
#endif


#if !FINAL
// ---- stage 1 -----------------------------------------------------------------------------------------------
@compute @workgroup_size(WG)
fn topk_partial(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32
#if SUBGROUPS
         , @builtin(subgroup_size) sg: u32
#endif
) {
#if !SUBGROUPS
  let sg = 1u;
#endif
  let c = wg.x;
  let r = wg.y;
  if (c >= P.chunks || r >= P.rows) { return; } // uniform per workgroup
  let start = c * P.chunk;
  let end = min(start + P.chunk, P.vocab);
  let xo = P.xBase + r * P.vocab;
  let out = (r * P.chunks + c) * P.k;

#if LSE
  var acc = vec2f(LOWEST, 0.0);
  for (var i = start + lid; i < end; i += WG) { acc = lse_push(acc, x[xo + i]); }
  let st = wg_lse(acc, lid, sg);
  if (lid == 0u) { stats[r * P.chunks + c] = st; }
#endif

  var pv = 0.0;
  var pi = NONE; // previous pick; NONE in round 0 means "no bound"
  for (var round = 0u; round < P.k; round++) {
    var bv = 0.0;
    var bi = NONE;
    for (var i = start + lid; i < end; i += WG) {
      let v = x[xo + i];
      if ((round == 0u || beats(pv, pi, v, i)) && beats(v, i, bv, bi)) {
        bv = v;
        bi = i;
      }
    }
    let best = wg_best(bv, bi, lid, sg);
    if (lid == 0u) { cand[out + round] = best; }
    // Once the chunk is exhausted the pick is NONE, which nothing is worse than: later rounds stay NONE.
    pv = bitcast<f32>(best.x);
    pi = best.y;
  }
}
#endif

#if FINAL
// ---- stage 2 -----------------------------------------------------------------------------------------------
// Per row of the group: (max, log Σ exp, bias).
var<workgroup> shift: array<vec4f, 64>;

@compute @workgroup_size(WG)
fn topk_final(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32
#if SUBGROUPS
       , @builtin(subgroup_size) sg: u32
#endif
) {
#if !SUBGROUPS
  let sg = 1u;
#endif
  let g = wg.x;
  let r0 = g * P.groupRows;
  if (r0 >= P.rows) { return; } // uniform per workgroup

  for (var lr = lid; lr < P.groupRows; lr += WG) {
    var sh = vec4f(0.0);
#if LSE
    var t = stats[(r0 + lr) * P.chunks];
    for (var c = 1u; c < P.chunks; c++) { t = lse_merge(t, stats[(r0 + lr) * P.chunks + c]); }
    sh = vec4f(t.x, log(t.y), 0.0, 0.0);
#endif
#if BIAS
    sh.z = bias[P.biasBase + r0 + lr];
#endif
    shift[lr] = sh;
  }
  workgroupBarrier();

  let per = P.chunks * P.k;         // candidates per row
  let n = P.groupRows * per;
  let base = r0 * per;
  var pv = 0.0;
  var pi = NONE;
  for (var round = 0u; round < P.k; round++) {
    var bv = 0.0;
    var bi = NONE;
    for (var q = lid; q < n; q += WG) {
      let cv = cand[base + q];
      if (cv.y == NONE) { continue; }
      let lr = q / per;
      let sh = shift[lr];
#if LSE
      let v = ((bitcast<f32>(cv.x) - sh.x) - sh.y) + sh.z;
#else
      let v = bitcast<f32>(cv.x) + sh.z;
#endif
      var i = cv.y;
      if (P.groupRows > 1u) { i = (r0 + lr) * P.vocab + cv.y; }
      if ((round == 0u || beats(pv, pi, v, i)) && beats(v, i, bv, bi)) {
        bv = v;
        bi = i;
      }
    }
    let best = wg_best(bv, bi, lid, sg);
    pv = bitcast<f32>(best.x);
    pi = best.y;
    if (lid == 0u) {
      outIdx[P.idxBase + g * P.k + round] = pi;
      outVal[P.valBase + g * P.k + round] = select(pv, neg_inf(), pi == NONE);
    }
  }
}
#endif
