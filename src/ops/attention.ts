/**
 * Attention kernels (shaders/attention.wgsl, shaders/attention-decode.wgsl). All compute in f32; the score
 * matrix is never materialised.
 *
 *  - windowAttention: the encoder's bidirectional attention inside independent windows (30 s = 1500 frames),
 *    optionally causal and/or sliding-window; q, k, v, out `[windows * windowLen, heads, headDim]`.
 *  - prefillAttention: causal grouped-query attention of T new queries against a KV cache (same fused kernel,
 *    keys read straight from the cache).
 *  - decodeAttention: one query per row against its own cache slot and length (a row table: beams of one sequence
 *    and rows of concurrent sequences alike), split-K over positions plus a combine.
 *
 * @example
 * windowAttention(rec, q, k, v, out, { windows: 2, windowLen: 1500, heads: 20, headDim: 64, scale: 0.125 });
 * const rows = decodeRows(gpu, [0], [p]);                    // one row: slot 0, new key at position p
 * writeKv(rec, kNew, vNew, cache, { rows });
 * decodeAttention(rec, q, cache, out, { rows, qHeads: 16, kvHeads: 4, headDim: 128, scale: 128 ** -0.5 });
 */
import { f32, type Gpu, type Recorder, type Tensor } from '../gpu';
import { checkRows, type DecodeRows, type KvCache } from './kv-cache';

const LOG2E = Math.LOG2E;

/**
 * Variant of the fused kernel. 'cpu': 4 queries per invocation, keys read directly (no workgroup memory, no
 * barriers), runtime loop bounds: fastest on CPU backends and quick to compile there. 'gpu': one query per
 * invocation, K/V blocks staged in workgroup memory, unrolled loops. Default: 'cpu' on fallback (software)
 * adapters such as lavapipe and SwiftShader, 'gpu' otherwise.
 */
export type FlashVariant = 'cpu' | 'gpu';

/** Invocations per workgroup of the fused kernel (≤ 256 for SwiftShader). */
const FLASH_WG: Record<FlashVariant, number> = { cpu: 32, gpu: 64 };
/** Queries per invocation. */
const FLASH_QPT: Record<FlashVariant, number> = { cpu: 4, gpu: 1 };
/** 'gpu' variant: vec4 elements per staged K (and V) tile: 512 × 16 B = 8 KiB each, 16 KiB in all. */
const FLASH_TILE4 = 512;

const FLAG_CAUSAL = 1;
const FLAG_SLIDING = 2;

/** 'gpu' variant: keys per staged block for a head size (fills the tile; a multiple of 4, at most 64). */
export function flashBlockKeys(headDim: number): number {
  return Math.min(64, Math.floor(FLASH_TILE4 / (headDim / 4) / 4) * 4);
}

/** Queries one workgroup of the fused kernel handles. */
export function flashQueriesPerWorkgroup(variant: FlashVariant): number {
  return FLASH_WG[variant] * FLASH_QPT[variant];
}

export function defaultFlashVariant(gpu: Gpu): FlashVariant {
  return gpu.caps.cpuAdapter ? 'cpu' : 'gpu';
}

function checkHeadDim(op: string, headDim: number): void {
  if (!Number.isInteger(headDim) || headDim < 4 || headDim % 4 || headDim > 128) {
    throw new RangeError(`${op}: headDim ${headDim} must be a multiple of 4 in [4, 128]`);
  }
}

function checkTensor(op: string, t: Tensor, numel: number, what: string, dtype = 'f32'): void {
  if (t.dtype !== dtype) throw new TypeError(`${op}: "${t.label}" is ${t.dtype}, expected ${dtype}`);
  if (t.numel !== numel) {
    throw new RangeError(`${op}: "${t.label}" has ${t.numel} elements, expected ${what} = ${numel}`);
  }
}

interface FlashLaunch {
  groups: number;
  lq: number;
  lk: number;
  heads: number;
  groupSize: number;
  headDim: number;
  /** vec4 strides of keys/values. */
  kRow: number;
  kHead: number;
  kGroup: number;
  pos0: number;
  causal: boolean;
  slidingWindow?: number;
  scale: number;
  kvF16: boolean;
  variant: FlashVariant;
}

function flash(rec: Recorder, label: string, q: Tensor, k: Tensor, v: Tensor, out: Tensor, f: FlashLaunch): void {
  const D4 = f.headDim / 4;
  const staged = f.variant === 'gpu';
  const qBlocks = Math.ceil(f.lq / flashQueriesPerWorkgroup(f.variant));
  const flags = (f.causal ? FLAG_CAUSAL : 0) | (f.slidingWindow !== undefined ? FLAG_SLIDING : 0);
  const x = qBlocks * f.groups;
  const max = rec.gpu.caps.maxWorkgroupsPerDimension;
  if (x > max || f.heads > max) {
    throw new RangeError(`${label}: ${x} × ${f.heads} workgroups exceed ${max} per dimension; split the call`);
  }
  // The 'cpu' variant reads headDim at run time (one pipeline for every head size); 'gpu' unrolls over it.
  const constants: Record<string, number> = staged
    ? { BQ: FLASH_WG.gpu, D4, BK: flashBlockKeys(f.headDim) }
    : { BQ: FLASH_WG.cpu };
  rec.dispatch(
    { shader: 'attention.wgsl', entryPoint: 'main', defines: { KV_F16: f.kvF16, STAGED: staged }, constants },
    label, [q, k, v, out],
    [f.lq, f.lk, qBlocks, f.heads, f.groupSize, f.kRow, f.kHead, f.kGroup, f.pos0, flags, f.slidingWindow ?? 0,
      f32(f.scale * LOG2E), D4],
    [x, f.heads],
  );
}

export interface WindowAttentionOptions {
  windows: number;
  /** Tokens per window (the encoder pads every window to 1500 frames). */
  windowLen: number;
  heads: number;
  /** Key/value heads (grouped-query attention: query head h reads kv head ⌊h / (heads / kvHeads)⌋); default heads. */
  kvHeads?: number;
  /** Multiple of 4, ≤ 128. */
  headDim: number;
  /** Softmax scale, e.g. 1/√headDim. */
  scale: number;
  /** Key j is visible to query i only when |i − j| ≤ slidingWindow. */
  slidingWindow?: number;
  /** Key j is visible to query i only when j ≤ i. */
  causal?: boolean;
  /** Kernel variant; default from the adapter (see FlashVariant). */
  variant?: FlashVariant;
  label?: string;
}

/**
 * out = softmax(q kᵀ · scale) v within each window, per head; q and out are f32 `[windows * windowLen, heads,
 * headDim]`, k and v `[windows * windowLen, kvHeads, headDim]` (row = token). Tokens see only tokens of their own
 * window. When the tensors are larger than one storage binding, the windows are split
 * across several dispatches (each binding then starts at a window boundary, which must be 256-byte aligned).
 */
export function windowAttention(rec: Recorder, q: Tensor, k: Tensor, v: Tensor, out: Tensor,
  o: WindowAttentionOptions): void {
  const label = o.label ?? 'window_attention';
  const { windows, windowLen: L, heads: H, headDim: D } = o;
  const KV = o.kvHeads ?? H;
  checkHeadDim(label, D);
  for (const [name, n] of Object.entries({ windows, windowLen: L, heads: H, kvHeads: KV })) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${label}: ${name} = ${n} must be a positive integer`);
  }
  if (H % KV) throw new RangeError(`${label}: heads ${H} is not a multiple of kvHeads ${KV}`);
  if (o.slidingWindow !== undefined && !(Number.isInteger(o.slidingWindow) && o.slidingWindow >= 0)) {
    throw new RangeError(`${label}: slidingWindow ${o.slidingWindow} must be a non-negative integer`);
  }
  const what = (heads: number) => `windows ${windows} × windowLen ${L} × heads ${heads} × headDim ${D}`;
  for (const t of [q, out]) checkTensor(label, t, windows * L * H * D, what(H));
  for (const t of [k, v]) checkTensor(label, t, windows * L * KV * D, what(KV));
  if (new Set([q.buffer, k.buffer, v.buffer]).has(out.buffer)) {
    throw new RangeError(`${label}: out must not share a buffer with q, k or v`);
  }

  const variant = o.variant ?? defaultFlashVariant(rec.gpu);
  const windowBytes = L * H * D * 4; // of q and out (k and v: ≤ this)
  const maxBinding = rec.gpu.caps.maxStorageBindingBytes;
  const perDispatch = Math.min(windows, Math.floor(maxBinding / windowBytes),
    Math.floor(rec.gpu.caps.maxWorkgroupsPerDimension / Math.ceil(L / flashQueriesPerWorkgroup(variant))));
  if (perDispatch < 1) {
    throw new RangeError(`${label}: one window (${windowBytes} bytes) exceeds the storage binding limit ${maxBinding}`);
  }
  const D4 = D / 4;
  for (let w0 = 0; w0 < windows; w0 += perDispatch) {
    const n = Math.min(perDispatch, windows - w0);
    const part = (t: Tensor, heads: number) => {
      if (n === windows) return t;
      const off = t.byteOffset + w0 * L * heads * D * 4;
      if (off % 256) {
        throw new RangeError(`${label}: a split at window ${w0} lands at byte ${off} of "${t.label}", not 256-aligned`);
      }
      return t.view([windows * L, heads * D]).rows(w0 * L, n * L);
    };
    flash(rec, n === windows ? label : `${label}[w${w0}:${w0 + n}]`, part(q, H), part(k, KV),
      part(v, KV), part(out, H), {
      groups: n, lq: L, lk: L, heads: H, groupSize: H / KV, headDim: D,
      kRow: KV * D4, kHead: D4, kGroup: L * KV * D4,
      pos0: 0, causal: o.causal ?? false, slidingWindow: o.slidingWindow, scale: o.scale, kvF16: false, variant,
    });
  }
}

export interface CachedAttentionOptions {
  qHeads: number;
  kvHeads: number;
  headDim: number;
  scale: number;
  /** Beams (batch) to attend for; default cache.beams. q/out hold beams × tokens rows. */
  beams?: number;
  label?: string;
}

export interface PrefillVariantOption {
  /** Kernel variant; default from the adapter (see FlashVariant). */
  variant?: FlashVariant;
}

function checkCached(label: string, cache: KvCache, o: CachedAttentionOptions): number {
  checkHeadDim(label, o.headDim);
  if (o.kvHeads !== cache.kvHeads || o.headDim !== cache.headDim) {
    throw new RangeError(`${label}: kvHeads ${o.kvHeads} × headDim ${o.headDim} do not match cache "${cache.label}" ` +
      `(${cache.kvHeads} × ${cache.headDim})`);
  }
  if (!Number.isInteger(o.qHeads) || o.qHeads < 1 || o.qHeads % o.kvHeads) {
    throw new RangeError(`${label}: qHeads ${o.qHeads} must be a multiple of kvHeads ${o.kvHeads}`);
  }
  const beams = o.beams ?? cache.beams;
  if (beams > cache.beams) throw new RangeError(`${label}: ${beams} beams, cache "${cache.label}" has ${cache.beams}`);
  return beams;
}

export interface PrefillAttentionOptions extends CachedAttentionOptions, PrefillVariantOption {
  /** Position of the first new query (= number of cache positions before this call). */
  pos0: number;
  /** New queries per beam; their K/V must already be in the cache at pos0 .. pos0+tokens−1. */
  tokens: number;
}

/**
 * Causal grouped-query attention of `tokens` new queries per beam against cache positions [0, pos0 + tokens):
 * query t (absolute position pos0 + t) sees positions ≤ pos0 + t. q, out are f32 `[beams * tokens, qHeads, headDim]`.
 * Write the new K/V with writeKv first. Same fused kernel as windowAttention, reading keys from the cache.
 */
export function prefillAttention(rec: Recorder, q: Tensor, cache: KvCache, out: Tensor,
  o: PrefillAttentionOptions): void {
  const label = o.label ?? 'prefill_attention';
  const beams = checkCached(label, cache, o);
  const { qHeads, kvHeads, headDim, pos0, tokens } = o;
  if (!Number.isInteger(tokens) || tokens < 1 || !Number.isInteger(pos0) || pos0 < 0 || pos0 + tokens > cache.maxSeq) {
    throw new RangeError(`${label}: positions ${pos0}..${pos0 + tokens} outside cache "${cache.label}" ` +
      `(maxSeq ${cache.maxSeq})`);
  }
  const numel = beams * tokens * qHeads * headDim;
  for (const t of [q, out]) checkTensor(label, t, numel, `beams ${beams} × tokens ${tokens} × qHeads ` +
    `${qHeads} × headDim ${headDim}`);
  const D4 = headDim / 4;
  flash(rec, label, q, cache.k, cache.v, out, {
    groups: beams, lq: tokens, lk: pos0 + tokens, heads: qHeads, groupSize: qHeads / kvHeads, headDim,
    kRow: D4, kHead: cache.maxSeq * D4, kGroup: kvHeads * cache.maxSeq * D4,
    pos0, causal: true, scale: o.scale, kvF16: cache.dtype === 'f16', variant: o.variant ??
      defaultFlashVariant(rec.gpu),
  });
}

export interface DecodeAttentionOptions extends CachedAttentionOptions {
  /** Query rows: each its cache slot, the position of its newest key, its split-K chunk (`decodeRows`). */
  rows: DecodeRows;
  /** Kernel variant; default from the adapter (see FlashVariant). */
  variant?: FlashVariant;
  /**
   * f32, ≥ decodeScratchElems(…) elements, for the split-K partials; default a pooled tensor released after recording.
   */
  scratch?: Tensor;
}

/** Score-tile capacity of the split kernel (positions per workgroup). */
export const DECODE_MAX_CHUNK = 256;
/** Query heads per kv head the split kernel supports. */
export const DECODE_MAX_GROUP = 8;
/**
 * Split-kernel invocations: 'cpu' runs one SIMD width (8 on lavapipe) per workgroup, so every invocation walks
 * several positions per chunk (fewer, longer lanes measured fastest on lavapipe); 'gpu' runs 64.
 */
const DECODE_WG: Record<FlashVariant, number> = { cpu: 8, gpu: 64 };
const COMBINE_WG = 32;

/** Default split-K chunk: about 16 chunks per (beam, kv head) for short contexts, 256 positions for long ones. */
export function decodeChunk(pos: number): number {
  let c = 32;
  while (c < DECODE_MAX_CHUNK && c * 16 < pos) c *= 2;
  return c;
}

/**
 * The row table of a decode step (uploaded; release `table` and `positions` after the submit): row r writes its
 * new key at position `at[r]` of cache slot `slots[r]` and attends to positions [0, at[r] + 1) of it. Its split-K
 * chunk depends only on its own length (`decodeChunk`, or `o.chunk`), so a row's result is the same whatever
 * other rows share the step.
 * @example
 * const rows = decodeRows(gpu, [0, 1, 2, 3, 6], [57, 57, 57, 57, 12]);  // 4 beams at 57, a greedy row at 12
 */
export function decodeRows(gpu: Gpu, slots: readonly number[], at: readonly number[],
  o: { chunk?: number; label?: string } = {}): DecodeRows {
  const label = o.label ?? 'decode.rows';
  if (slots.length < 1 || at.length !== slots.length) {
    throw new RangeError(`${label}: ${slots.length} slots and ${at.length} positions (one each per row, ≥ 1 row)`);
  }
  const chunks = at.map((p) => o.chunk ?? decodeChunk(p + 1));
  for (const c of chunks) {
    if (!Number.isInteger(c) || c < 1 || c > DECODE_MAX_CHUNK) {
      throw new RangeError(`${label}: chunk ${c} outside [1, ${DECODE_MAX_CHUNK}]`);
    }
  }
  const table = new Uint32Array(4 * slots.length);
  slots.forEach((s, r) => table.set([s, at[r], chunks[r], 0], 4 * r));
  return {
    table: gpu.upload(label, table, [slots.length, 4], 'u32'),
    positions: gpu.upload(`${label}.positions`, Uint32Array.from(at), [at.length], 'u32'),
    slots: [...slots], at: [...at], chunks,
  };
}

/** Split-K partials per (row, query head) of a row table: the most chunks of any row. */
function maxChunks(rows: DecodeRows): number {
  return Math.max(...rows.at.map((p, r) => Math.ceil((p + 1) / rows.chunks[r])));
}

/**
 * One query per row against its cache slot's positions [0, at + 1) (`rows`): q, out f32 `[rows, qHeads,
 * headDim]`; q-head h uses kv-head ⌊h / (qHeads / kvHeads)⌋. Split-K: ⌈len / chunk⌉ × kvHeads × rows workgroups
 * each handle one chunk for all the q-heads of a kv head and write partial (max, sum, acc); a combine kernel
 * merges them. Rows with fewer chunks than the longest skip the rest. The partials go to `o.scratch` or to a
 * pooled tensor released right after recording.
 */
export function decodeAttention(rec: Recorder, q: Tensor, cache: KvCache, out: Tensor,
  o: DecodeAttentionOptions): void {
  const label = o.label ?? 'decode_attention';
  const scratch = o.scratch;
  checkCached(label, cache, { ...o, beams: cache.beams });
  checkRows(label, cache, o.rows);
  const beams = o.rows.slots.length;
  const { qHeads, kvHeads, headDim } = o;
  const numel = beams * qHeads * headDim;
  for (const t of [q, out]) checkTensor(label, t, numel, `rows ${beams} × qHeads ${qHeads} × headDim ${headDim}`);
  const group = qHeads / kvHeads;
  if (group > DECODE_MAX_GROUP) {
    throw new RangeError(`${label}: ${group} query heads per kv head; at most ${DECODE_MAX_GROUP} are supported`);
  }
  const variant = o.variant ?? defaultFlashVariant(rec.gpu);
  const nChunks = maxChunks(o.rows);
  const accElems = beams * qHeads * nChunks * headDim;
  const mlElems = beams * qHeads * nChunks * 2;
  const own = scratch === undefined;
  const need = decodeScratchElems(o.rows, qHeads, headDim);
  const s = scratch ?? rec.gpu.tensor(`${label}.partials`, [need], 'f32');
  if (s.dtype !== 'f32' || s.numel < need) {
    throw new RangeError(`${label}: scratch "${s.label}" needs ≥ ${need} f32 elements`);
  }
  const flat = s.view([s.numel]);
  const partAcc = flat.rows(0, accElems);
  const mlOffset = Math.ceil((accElems * 4) / 256) * 256; // the (max, sum) binding must start 256-byte aligned
  const partMl = flat.rows(mlOffset / 4, mlElems);
  const D4 = headDim / 4;
  const params = [nChunks, qHeads, kvHeads, group, cache.maxSeq, f32(o.scale * LOG2E), D4];
  const kvF16 = cache.dtype === 'f16';
  rec.dispatch(
    { shader: 'attention-decode.wgsl', entryPoint: 'split', defines: { KV_F16: kvF16 },
      constants: { WG: DECODE_WG[variant], CHUNK: DECODE_MAX_CHUNK, G4: Math.ceil(group / 4) } },
    `${label}.split`, [q, cache.k, cache.v, o.rows.table, partAcc, partMl], params, [nChunks, kvHeads, beams],
  );
  rec.dispatch(
    { shader: 'attention-decode.wgsl', entryPoint: 'combine', defines: { COMBINE: true },
      constants: { WG: COMBINE_WG } },
    `${label}.combine`, [o.rows.table, partAcc, partMl, out], params, [qHeads, beams],
  );
  if (own) rec.gpu.release(s);
}

/** Scratch elements (f32) decodeAttention needs for `rows`, including the alignment gap. */
export function decodeScratchElems(rows: DecodeRows, qHeads: number, headDim: number): number {
  const n = rows.slots.length * qHeads * maxChunks(rows);
  return Math.ceil((n * headDim * 4) / 256) * 64 + n * 2;
}
