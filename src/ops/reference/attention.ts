/**
 * Plain-TypeScript references for src/ops/attention.ts and src/ops/kv-cache.ts: f64 arithmetic, the full
 * softmax over an explicit score row (no online tricks), f32 results. Layouts match the GPU ops:
 *   activations  [rows, heads, headDim]            (row = token)
 *   KV cache     [beams, kvHeads, maxSeq, headDim]
 */

export interface WindowAttentionRefOptions {
  windows: number;
  windowLen: number;
  heads: number;
  /** Key/value heads (query head h reads kv head ⌊h / (heads / kvHeads)⌋); default heads. */
  kvHeads?: number;
  headDim: number;
  scale: number;
  /** Key j is visible to query i only when |i − j| ≤ slidingWindow. */
  slidingWindow?: number;
  /** Key j is visible to query i only when j ≤ i. */
  causal?: boolean;
}

/** Softmax-weighted sum of `values(j)` over the visible keys, with full (two-pass) softmax in f64. */
function attendRow(
  qRow: (d: number) => number,
  keys: number[],
  kAt: (j: number, d: number) => number,
  vAt: (j: number, d: number) => number,
  headDim: number,
  scale: number,
  out: Float32Array,
  outBase: number,
): void {
  const s = new Float64Array(keys.length);
  let max = -Infinity;
  keys.forEach((j, n) => {
    let dot = 0;
    for (let d = 0; d < headDim; d++) dot += qRow(d) * kAt(j, d);
    s[n] = dot * scale;
    if (s[n] > max) max = s[n];
  });
  let sum = 0;
  for (let n = 0; n < s.length; n++) {
    s[n] = Math.exp(s[n] - max);
    sum += s[n];
  }
  for (let d = 0; d < headDim; d++) {
    let acc = 0;
    keys.forEach((j, n) => { acc += s[n] * vAt(j, d); });
    out[outBase + d] = acc / sum;
  }
}

/**
 * Attention within independent windows; q, result: [windows * windowLen, heads, headDim],
 * k, v: [.., kvHeads, headDim].
 */
export function windowAttention(q: Float32Array, k: Float32Array, v: Float32Array,
  o: WindowAttentionRefOptions): Float32Array {
  const { windows, windowLen: L, heads: H, headDim: D, scale } = o;
  const KV = o.kvHeads ?? H;
  const out = new Float32Array(windows * L * H * D);
  const at = (a: Float32Array, w: number, t: number, h: number, d: number) => a[((w * L + t) * H + h) * D + d];
  const kvAt = (a: Float32Array, w: number, t: number, h: number, d: number) =>
    a[((w * L + t) * KV + Math.floor(h / (H / KV))) * D + d];
  for (let w = 0; w < windows; w++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < L; i++) {
        const keys: number[] = [];
        for (let j = 0; j < L; j++) {
          if (o.causal && j > i) continue;
          if (o.slidingWindow !== undefined && Math.abs(i - j) > o.slidingWindow) continue;
          keys.push(j);
        }
        attendRow((d) => at(q, w, i, h, d), keys, (j, d) => kvAt(k, w, j, h, d), (j, d) => kvAt(v, w, j, h, d),
          D, scale, out, ((w * L + i) * H + h) * D);
      }
    }
  }
  return out;
}

export interface CacheShape {
  beams: number;
  maxSeq: number;
  kvHeads: number;
  headDim: number;
}

/** Host copy of a KV cache (one of K or V), [beams, kvHeads, maxSeq, headDim]. */
export function emptyCache(s: CacheShape): Float32Array {
  return new Float32Array(s.beams * s.kvHeads * s.maxSeq * s.headDim);
}

/** Writes rows [beams * tokens, kvHeads, headDim] at positions pos .. pos+tokens-1 of every beam (in place). */
export function writeKv(cache: Float32Array, rows: Float32Array, s: CacheShape, pos: number, tokens: number): void {
  const { beams, maxSeq: S, kvHeads: KH, headDim: D } = s;
  for (let b = 0; b < beams; b++) {
    for (let t = 0; t < tokens; t++) {
      for (let h = 0; h < KH; h++) {
        for (let d = 0; d < D; d++) {
          cache[((b * KH + h) * S + pos + t) * D + d] = rows[((b * tokens + t) * KH + h) * D + d];
        }
      }
    }
  }
}

/** Writes row r of rows [n, kvHeads, headDim] at position at[r] of slot slots[r] (in place): a batched decode step. */
export function writeKvRows(cache: Float32Array, rows: Float32Array, s: CacheShape, slots: readonly number[],
  at: readonly number[]): void {
  const { maxSeq: S, kvHeads: KH, headDim: D } = s;
  slots.forEach((slot, r) => {
    for (let h = 0; h < KH; h++) {
      for (let d = 0; d < D; d++) cache[((slot * KH + h) * S + at[r]) * D + d] = rows[(r * KH + h) * D + d];
    }
  });
}

/** New cache where beam b holds positions [from, pos) of beam `src[b]`; everything else is unchanged. */
export function reorderKv(cache: Float32Array, src: ArrayLike<number>, s: CacheShape, pos: number,
  from = 0): Float32Array {
  const { beams, maxSeq: S, kvHeads: KH, headDim: D } = s;
  const out = cache.slice();
  for (let b = 0; b < beams; b++) {
    for (let h = 0; h < KH; h++) {
      for (let p = from; p < pos; p++) {
        for (let d = 0; d < D; d++) out[((b * KH + h) * S + p) * D + d] = cache[((src[b] * KH + h) * S + p) * D + d];
      }
    }
  }
  return out;
}

export interface CachedAttentionRefOptions extends CacheShape {
  /** Queries per beam. */
  tokens: number;
  /** Absolute position of each beam's first query; query t sees cache positions [0, pos0 + t]. */
  pos0: number;
  qHeads: number;
  scale: number;
}

/**
 * Causal grouped-query attention of q [beams * tokens, qHeads, headDim] against a KV cache
 * (decode: tokens = 1, pos0 = pos − 1). q-head h reads kv-head floor(h / (qHeads / kvHeads)).
 */
export function cachedAttention(q: Float32Array, kCache: Float32Array, vCache: Float32Array,
  o: CachedAttentionRefOptions): Float32Array {
  const { beams, tokens: T, maxSeq: S, kvHeads: KH, headDim: D, qHeads: QH, pos0, scale } = o;
  const group = QH / KH;
  const out = new Float32Array(beams * T * QH * D);
  for (let b = 0; b < beams; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < QH; h++) {
        const kh = Math.floor(h / group);
        const keys = Array.from({ length: pos0 + t + 1 }, (_, j) => j);
        const qb = ((b * T + t) * QH + h) * D;
        const cb = (b * KH + kh) * S;
        attendRow((d) => q[qb + d], keys, (j, d) => kCache[(cb + j) * D + d], (j, d) => vCache[(cb + j) * D + d],
          D, scale, out, qb);
      }
    }
  }
  return out;
}

export interface RowsAttentionRefOptions extends CacheShape {
  /** Per query row: its cache slot and the position of its newest key (it attends to [0, at]). */
  slots: readonly number[];
  at: readonly number[];
  qHeads: number;
  scale: number;
}

/** Decode attention of q [rows, qHeads, headDim], row r against positions [0, at[r]] of cache slot slots[r]. */
export function rowsAttention(q: Float32Array, kCache: Float32Array, vCache: Float32Array,
  o: RowsAttentionRefOptions): Float32Array {
  const { maxSeq: S, kvHeads: KH, headDim: D, qHeads: QH, scale } = o;
  const group = QH / KH;
  const out = new Float32Array(o.slots.length * QH * D);
  o.slots.forEach((slot, r) => {
    const keys = Array.from({ length: o.at[r] + 1 }, (_, j) => j);
    for (let h = 0; h < QH; h++) {
      const qb = (r * QH + h) * D;
      const cb = (slot * KH + Math.floor(h / group)) * S;
      attendRow((d) => q[qb + d], keys, (j, d) => kCache[(cb + j) * D + d], (j, d) => vCache[(cb + j) * D + d],
        D, scale, out, qb);
    }
  });
  return out;
}
