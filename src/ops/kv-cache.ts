/**
 * The decoder's static KV cache: one `KvCache` per layer holding K and V as
 * `[beams, kvHeads, maxSeq, headDim]` (f32, or f16 storage where the device has shader-f16). A "beam" is a slot:
 * one sequence's positions. Slots of several sequences can share one cache (`slots` gives one sequence's range as
 * a cache of its own), and a batched decode step addresses each row's slot and position through a `DecodeRows`
 * table.
 *
 * Layout choice: kv-head-major. Decode attention for one (beam, kv head) then reads a single contiguous run of
 * `pos × headDim` values (the split-K chunks are contiguous slices of it), instead of `headDim`-sized rows
 * strided by `kvHeads × headDim`; prefill reads key blocks the same way. Writes of new rows are the scattered
 * side, but they are tiny (one row per kv head per token).
 *
 * @example
 * const cache = KvCache.create(gpu, 'dec.l0', { beams: 1, maxSeq: 8192, kvHeads: 4, headDim: 128 });
 * writeKv(rec, k, v, cache, { pos: 0, tokens: promptLen });        // prefill: k, v = [tokens, 4, 128]
 * writeKv(rec, k1, v1, cache, { pos: promptLen, tokens: 1 });      // each decode step
 * reorderKv(rec, cache, beamIndices, scratch, { pos, from: promptLen }); // beam search
 */
import { grid, Tensor, type Gpu, type Recorder } from '../gpu';

export type KvDType = 'f32' | 'f16';

export interface KvCacheShape {
  beams: number;
  maxSeq: number;
  kvHeads: number;
  headDim: number;
  /** Storage type; 'f16' needs caps.f16. Attention always computes in f32. Default 'f32'. */
  dtype?: KvDType;
}

export class KvCache {
  /**
   * Positions written so far (host-side bookkeeping, advanced by writeKv); ops take explicit positions and use
   * this only as a default.
   */
  length = 0;

  private constructor(
    readonly k: Tensor,
    readonly v: Tensor,
    readonly beams: number,
    readonly maxSeq: number,
    readonly kvHeads: number,
    readonly headDim: number,
    readonly dtype: KvDType,
    /** Set on a `slots` view: the cache that owns the buffers. */
    private readonly owner?: KvCache,
  ) {}

  /** Allocates a permanent (non-pooled) cache. Contents start undefined; positions are valid once written. */
  static create(gpu: Gpu, label: string, shape: KvCacheShape): KvCache {
    const { beams, maxSeq, kvHeads, headDim } = shape;
    const dtype = shape.dtype ?? 'f32';
    for (const [name, n] of Object.entries({ beams, maxSeq, kvHeads, headDim })) {
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError(`KvCache "${label}": ${name} = ${n} must be a positive integer`);
      }
    }
    if (headDim % 4 || headDim > 128) {
      throw new RangeError(`KvCache "${label}": headDim ${headDim} must be a multiple of 4 and ≤ 128`);
    }
    if (dtype === 'f16' && !gpu.caps.f16) {
      throw new Error(`KvCache "${label}": f16 storage needs the shader-f16 feature, which this device lacks`);
    }
    const shp = [beams, kvHeads, maxSeq, headDim];
    const bytes = beams * kvHeads * maxSeq * headDim * (dtype === 'f16' ? 2 : 4);
    if (bytes > gpu.caps.maxStorageBindingBytes) {
      throw new RangeError(`KvCache "${label}": ${bytes} bytes per tensor exceeds the ` +
        `${gpu.caps.maxStorageBindingBytes}-byte storage binding limit (fewer beams, a shorter maxSeq or f16)`);
    }
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const k = new Tensor(gpu.pool.create(`${label}.k_cache`, bytes, usage), shp, dtype);
    const v = new Tensor(gpu.pool.create(`${label}.v_cache`, bytes, usage), shp, dtype);
    return new KvCache(k, v, beams, maxSeq, kvHeads, headDim, dtype);
  }

  /** A second cache of the same shape and dtype (e.g. the scratch for reorderKv). */
  static like(gpu: Gpu, label: string, c: KvCache): KvCache {
    return KvCache.create(gpu, label, c);
  }

  get label(): string {
    return this.k.label.replace(/\.k_cache$/, '');
  }

  /**
   * Slots [first, first + count) as a cache of `count` beams on the same buffers (prefill and reorder of one
   * sequence of a shared cache). A slot's bytes must be a multiple of the storage offset alignment.
   */
  slots(gpu: Gpu, first: number, count: number): KvCache {
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 1 || first + count > this.beams) {
      throw new RangeError(`KvCache "${this.label}": slots ${first}..${first + count} outside 0..${this.beams}`);
    }
    const slotBytes = this.k.byteLength / this.beams;
    if ((first * slotBytes) % gpu.caps.storageOffsetAlignment) {
      throw new RangeError(`KvCache "${this.label}": slot ${first} starts at byte ${first * slotBytes}, not a ` +
        `multiple of the ${gpu.caps.storageOffsetAlignment}-byte storage offset alignment (pick maxSeq so it is)`);
    }
    const view = (t: Tensor) => new Tensor(t.buffer, [count, ...t.shape.slice(1)], t.dtype,
      t.byteOffset + first * slotBytes);
    return new KvCache(view(this.k), view(this.v), count, this.maxSeq, this.kvHeads, this.headDim, this.dtype,
      this.owner ?? this);
  }

  destroy(gpu: Gpu): void {
    if (this.owner) throw new Error(`KvCache "${this.label}": a slots view cannot be destroyed (its owner can)`);
    gpu.pool.destroy(this.k.buffer);
    gpu.pool.destroy(this.v.buffer);
  }
}

const WG = 256;

function dispatchGrid(rec: Recorder, n: number): [number, number] {
  return grid(Math.ceil(n / WG), rec.gpu.caps.maxWorkgroupsPerDimension);
}

/**
 * The rows of a batched decode step, each at its own cache slot and position (`decodeRows` in ./attention.ts
 * builds it): writeKv puts row r's key at (slots[r], positions[r]) and decodeAttention lets it attend to
 * positions [0, positions[r] + 1) of its slot.
 */
export interface DecodeRows {
  /** u32 [rows, 4]: slot, position, split-K chunk, 0 per row (the kernels' table). */
  table: Tensor;
  /** u32 [rows]: the positions again, for RoPE's positions buffer. */
  positions: Tensor;
  /** Host copies of the table's columns. */
  slots: readonly number[];
  at: readonly number[];
  chunks: readonly number[];
}

export interface WriteKvOptions {
  /** First cache position to write (without `rows`). */
  pos?: number;
  /** Rows per beam (prefill: the prompt length; decode: 1). */
  tokens?: number;
  /** Defaults to cache.beams; k and v hold beams × tokens rows. */
  beams?: number;
  /** One token per row, row r to slot `rows.slots[r]` at `rows.at[r]` (instead of pos / tokens / beams). */
  rows?: DecodeRows;
  label?: string;
}

/**
 * Appends rows: `k`, `v` are f32 `[beams * tokens, kvHeads, headDim]` (row = beam-major, then token), written to
 * cache positions `pos .. pos + tokens − 1` of beams `0 .. beams − 1`; or, with `rows`, one token per row at its
 * own slot and position. Advances `cache.length`.
 */
export function writeKv(rec: Recorder, k: Tensor, v: Tensor, cache: KvCache, opts: WriteKvOptions): void {
  const label = opts.label ?? 'write_kv';
  const { kvHeads, headDim, maxSeq } = cache;
  if (opts.rows) {
    const r = opts.rows;
    checkRows(label, cache, r);
    checkRowTensors(label, k, v, r.slots.length, kvHeads, headDim);
    const n4 = (r.slots.length * kvHeads * headDim) / 4;
    rec.dispatch({ shader: 'kv-cache.wgsl', entryPoint: 'write_kv',
      defines: { KV_F16: cache.dtype === 'f16', ROWS: true }, constants: { WG } },
    label, [k, v, cache.k, cache.v, r.table], [n4, 1, kvHeads, headDim / 4, maxSeq, 0], dispatchGrid(rec, n4));
    cache.length = Math.max(cache.length, ...r.at.map((p) => p + 1));
    return;
  }
  const beams = opts.beams ?? cache.beams;
  const { pos, tokens } = opts;
  if (pos === undefined || tokens === undefined) throw new RangeError(`${label}: needs pos and tokens, or rows`);
  const n = beams * tokens * kvHeads * headDim;
  checkRowTensors(label, k, v, beams * tokens, kvHeads, headDim);
  if (!Number.isInteger(pos) || pos < 0 || pos + tokens > maxSeq) {
    throw new RangeError(`${label}: positions ${pos}..${pos + tokens} exceed cache "${cache.label}" maxSeq ${maxSeq}`);
  }
  if (beams > cache.beams) throw new RangeError(`${label}: ${beams} beams, cache "${cache.label}" has ${cache.beams}`);
  const n4 = n / 4;
  rec.dispatch({ shader: 'kv-cache.wgsl', entryPoint: 'write_kv',
    defines: { KV_F16: cache.dtype === 'f16' }, constants: { WG } },
    label, [k, v, cache.k, cache.v], [n4, tokens, kvHeads, headDim / 4, maxSeq, pos], dispatchGrid(rec, n4));
  cache.length = Math.max(cache.length, pos + tokens);
}

function checkRowTensors(label: string, k: Tensor, v: Tensor, rows: number, kvHeads: number, headDim: number): void {
  const n = rows * kvHeads * headDim;
  for (const t of [k, v]) {
    if (t.dtype !== 'f32') throw new TypeError(`${label}: "${t.label}" is ${t.dtype}, expected f32`);
    if (t.numel !== n) {
      throw new RangeError(`${label}: "${t.label}" has ${t.numel} elements, expected rows ${rows} × kvHeads ` +
        `${kvHeads} × headDim ${headDim} = ${n}`);
    }
  }
}

/** A row table's slots and positions must lie inside `cache`. */
export function checkRows(label: string, cache: KvCache, r: DecodeRows): void {
  const n = r.slots.length;
  if (n < 1 || r.at.length !== n || r.chunks.length !== n || r.table.numel !== 4 * n || r.table.dtype !== 'u32') {
    throw new RangeError(`${label}: row table "${r.table.label}" is not ${n} rows of (slot, position, chunk, 0) u32`);
  }
  r.slots.forEach((s, i) => {
    if (!(Number.isInteger(s) && s >= 0 && s < cache.beams)) {
      throw new RangeError(`${label}: row ${i} slot ${s} outside cache "${cache.label}" (${cache.beams} slots)`);
    }
    const p = r.at[i];
    if (!(Number.isInteger(p) && p >= 0 && p < cache.maxSeq)) {
      throw new RangeError(`${label}: row ${i} position ${p} outside cache "${cache.label}" (maxSeq ${cache.maxSeq})`);
    }
  });
}

export interface ReorderKvOptions {
  /** Positions [from, pos) are reordered; default pos = cache.length. */
  pos?: number;
  /**
   * First position to reorder (default 0). Positions every beam shares (the prompt, written to all beams by
   * prefill) need no reordering: pass the prompt length to copy only the generated part.
   */
  from?: number;
  label?: string;
}

/**
 * Beam reordering on the GPU, in place with a temporary: beam b of `cache` becomes the former beam
 * `beamIndices[b]` for positions [from, pos), both K and V. `beamIndices` is a u32 tensor [beams] that may repeat
 * and drop beams (e.g. [2, 0, 0]); indices ≥ beams are clamped. `scratch` is any cache of the same shape and
 * dtype, or with more beams (its first ones are used); its contents are overwritten (one scratch can serve
 * every layer, since the layers are done in order).
 * Two dispatches: gather cache → scratch, then copy scratch → cache. No host readback.
 */
export function reorderKv(rec: Recorder, cache: KvCache, beamIndices: Tensor, scratch: KvCache,
  opts: ReorderKvOptions = {}): void {
  const label = opts.label ?? 'reorder_kv';
  const pos = opts.pos ?? cache.length;
  const from = opts.from ?? 0;
  const { beams, kvHeads, headDim, maxSeq, dtype } = cache;
  if (scratch.beams < beams || scratch.kvHeads !== kvHeads || scratch.headDim !== headDim ||
    scratch.maxSeq !== maxSeq || scratch.dtype !== dtype) {
    throw new RangeError(`${label}: scratch "${scratch.label}" must have the shape and dtype of "${cache.label}" ` +
      '(at least as many beams)');
  }
  if (scratch.k.buffer === cache.k.buffer) throw new RangeError(`${label}: scratch and cache are the same buffers`);
  if (beamIndices.dtype !== 'u32' || beamIndices.numel !== beams) {
    throw new TypeError(`${label}: beam indices "${beamIndices.label}" must be u32 [${beams}], got ` +
      `${beamIndices.dtype} [${beamIndices.shape}]`);
  }
  if (!(0 <= from && from <= pos && pos <= maxSeq)) {
    throw new RangeError(`${label}: positions [${from}, ${pos}) outside [0, ${maxSeq}]`);
  }
  const span = pos - from;
  if (span === 0) return;
  const rowWords = dtype === 'f16' ? headDim / 2 : headDim;
  const n = beams * kvHeads * span * rowWords;
  const params = [n, beams, kvHeads, rowWords, maxSeq, from, span];
  rec.dispatch({ shader: 'kv-cache.wgsl', entryPoint: 'reorder', defines: { REORDER: true }, constants: { WG } },
    `${label}.gather`, [beamIndices, cache.k, cache.v, scratch.k, scratch.v], params, dispatchGrid(rec, n));
  rec.dispatch({ shader: 'kv-cache.wgsl', entryPoint: 'reorder',
    defines: { REORDER: true, IDENTITY: true }, constants: { WG } },
    `${label}.copy_back`, [scratch.k, scratch.v, cache.k, cache.v], params, dispatchGrid(rec, n));
}
