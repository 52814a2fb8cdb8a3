/**
 * The Llama text decoder of GLM-ASR over a static KV cache of sequence slots (no allocation per token).
 * A `Decoder` is one sequence of `beams` rows: slots side by side in a `DecoderCache`, its own (standalone) or one
 * shared by concurrent transcriptions (`./scheduler.ts`). Entry points:
 *   prefill(embeds[T, d])        — row 0, positions 0..T−1, causal; leaves the last position's logits.
 *   Decoder.step(gpu, members)   — one new token per row of every member decoder, each row at its own slot and
 *                                  position (one forward for all: the rows share every weight read); leaves each
 *                                  member's [rows, vocab] logits. `decoder.step(tokens)` is the one-member case.
 * Dispatch order per layer: rmsnorm → qkv (one product, three outputs) → rope(q), rope(k) → write KV →
 * attention → o_proj → residual+rmsnorm → gate/up+silu·mul (one product where the kernel can fuse it) → down →
 * residual+next rmsnorm; then lm_head.
 */
import { type Gpu, Recorder, Tensor } from '../../gpu';
import { decodeAttention, decodeRows, prefillAttention } from '../../ops/attention';
import { type DecodeRows, KvCache, reorderKv, writeKv } from '../../ops/kv-cache';
import { embedRows, linear, linearGlu, linearSplit, splitViews } from '../../ops/linear';
import { addRmsNorm, rmsNorm } from '../../ops/norm';
import { rope } from '../../ops/rope';
import type { GlmAsrConfig } from './config';
import type { GlmAsrWeights } from './weights';

/** Cache positions are allocated in multiples of this, so every slot starts storage-offset aligned. */
const SLOT_POSITIONS = 64;

/**
 * The KV caches of every layer: `slots` sequence slots of `maxSeq` positions each, allocated to decoders in
 * contiguous runs (one per sequence, one slot per beam), plus one layer's worth of reorder scratch for the
 * widest sequence (`scratchSlots`).
 */
export class DecoderCache {
  readonly layers: KvCache[];
  readonly scratch: KvCache;
  private readonly taken: boolean[];

  /** For the layers of `w` (a depth-truncated copy in benchmarks has fewer than the config). */
  constructor(private readonly gpu: Gpu, w: GlmAsrWeights, cfg: GlmAsrConfig, readonly slots: number, maxSeq: number,
    scratchSlots: number) {
    const d = cfg.decoder;
    const positions = DecoderCache.positions(maxSeq);
    const shape = (beams: number) => ({ beams, maxSeq: positions, kvHeads: d.kvHeads, headDim: d.headDim });
    this.layers = [];
    try {
      for (let i = 0; i < w.decoderLayers.length; i++) this.layers.push(KvCache.create(gpu, `dec.l${i}`, shape(slots)));
      this.scratch = KvCache.create(gpu, 'dec.reorder_scratch', shape(scratchSlots));
    } catch (e) {
      for (const c of this.layers) c.destroy(gpu);
      throw e;
    }
    this.taken = new Array<boolean>(slots).fill(false);
  }

  /** Positions a slot holds for sequences of up to `maxSeq` (rounded up to whole allocation units). */
  static positions(maxSeq: number): number {
    return Math.ceil(maxSeq / SLOT_POSITIONS) * SLOT_POSITIONS;
  }

  /** Bytes of K and V over all layers for one slot of `maxSeq` positions (f32). */
  static slotBytes(cfg: GlmAsrConfig, maxSeq: number): number {
    const d = cfg.decoder;
    return 2 * d.layers * d.kvHeads * d.headDim * 4 * DecoderCache.positions(maxSeq);
  }

  get maxSeq(): number {
    return this.layers[0].maxSeq;
  }

  /** Slots in use. */
  get used(): number {
    return this.taken.filter(Boolean).length;
  }

  /** First slot of a free run of `n` (first fit), or undefined. */
  findFree(n: number): number | undefined {
    for (let s = 0, run = 0; s < this.slots; s++) {
      run = this.taken[s] ? 0 : run + 1;
      if (run === n) return s - n + 1;
    }
    return undefined;
  }

  take(first: number, n: number, value: boolean): void {
    this.taken.fill(value, first, first + n);
  }

  dispose(): void {
    for (const c of [...this.layers, this.scratch]) c.destroy(this.gpu);
  }
}

/** One member of a batched step: a decoder and one token per row of it. */
export interface StepRows {
  decoder: Decoder;
  tokens: Int32Array;
}

export class Decoder {
  /** Per layer: this sequence's slots of the cache. */
  readonly caches: KvCache[];
  /** [beams, vocab] logits of the last forward (prefill fills row 0 only). */
  readonly logits: Tensor;
  /** First slot of this sequence in `cache`. */
  readonly slot: number;
  /** Positions held in the cache (the prompt plus generated tokens). */
  length = 0;
  private promptLength = 0;
  private reordered = false;
  private readonly cache: DecoderCache;
  private readonly ownsCache: boolean;

  /**
   * A sequence of `beams` rows and up to `maxSeq` positions: on free slots of `shared` (which must have them and
   * hold ≥ maxSeq positions), else on a cache of its own.
   */
  constructor(private readonly gpu: Gpu, private readonly w: GlmAsrWeights, private readonly cfg: GlmAsrConfig,
    readonly beams: number, readonly maxSeq: number, shared?: DecoderCache) {
    this.ownsCache = !shared;
    this.cache = shared ?? new DecoderCache(gpu, w, cfg, beams, maxSeq, beams);
    const slot = this.cache.findFree(beams);
    if (slot === undefined || this.cache.maxSeq < maxSeq || this.cache.scratch.beams < beams) {
      throw new RangeError(`decoder: the shared KV cache (${this.cache.slots} slots, ${this.cache.used} in use, ` +
        `${this.cache.maxSeq} positions) has no room for ${beams} rows of ${maxSeq} positions`);
    }
    this.slot = slot;
    this.cache.take(slot, beams, true);
    this.caches = this.cache.layers.map((c) => c.slots(gpu, slot, beams));
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const vocab = cfg.decoder.vocab;
    this.logits = new Tensor(gpu.pool.create('dec.logits', beams * vocab * 4, usage), [beams, vocab], 'f32');
  }

  /**
   * Runs the prompt embeddings [T, hidden] through the decoder for beam row 0, in chunks of positions whose
   * activations fit one storage binding (a 7900-token prompt's [T, ffn] MLP activation would not); each chunk
   * attends to the cache written by the ones before it.
   */
  prefill(rec: Recorder, embeds: Tensor, tokens: number, chunk = this.defaultPrefillChunk()): void {
    if (tokens > this.maxSeq) throw new RangeError(`prompt of ${tokens} tokens exceeds the KV cache ` +
      `(${this.maxSeq} positions)`);
    for (let t0 = 0; t0 < tokens; t0 += chunk) {
      const n = Math.min(chunk, tokens - t0);
      forward(rec, this.w, this.cfg, embeds.rows(t0, n), n, { caches: this.caches, pos: t0, tokens: n },
        this.logits.rows(0, 1));
    }
    this.length = this.promptLength = tokens;
  }

  /**
   * Largest prefill chunk whose activations fit one storage binding (at most 2048 positions): the fused QKV
   * output and the [gate | up] pair of an unfused GLU are one binding each.
   */
  defaultPrefillChunk(): number {
    const d = this.cfg.decoder;
    const rowBytes = 4 * Math.max(2 * d.ffn, (d.heads + 2 * d.kvHeads) * d.headDim, d.hidden);
    return Math.max(1, Math.min(2048, Math.floor(this.gpu.caps.maxStorageBindingBytes / rowBytes)));
  }

  /** One token per row (`tokens.length` rows from row 0) at the next position: `Decoder.step` with one member. */
  step(tokens: Int32Array): void {
    Decoder.step(this.gpu, [{ decoder: this, tokens }]);
  }

  /**
   * One forward for every row of every member (all on one cache), in one submission: member m's rows are its
   * rows 0..tokens.length−1, each at its slot and the member's next position. A row's result does not depend on
   * the other rows (every kernel computes rows independently; the split-K chunk follows the row's own length).
   */
  static step(gpu: Gpu, members: readonly StepRows[]): void {
    if (!members.length) return;
    const { w, cfg, cache } = members[0].decoder;
    const slots: number[] = [];
    const at: number[] = [];
    for (const { decoder: m, tokens } of members) {
      if (m.cache !== cache) throw new Error('decoder step: the members must share one KV cache');
      m.checkStep(tokens);
      for (let r = 0; r < tokens.length; r++) {
        slots.push(m.slot + r);
        at.push(m.length);
      }
    }
    const R = slots.length;
    const vocab = cfg.decoder.vocab;
    const ids = gpu.upload('dec.ids', Uint32Array.from(members.flatMap((m) => Array.from(m.tokens))), [R], 'u32');
    const rows = decodeRows(gpu, slots, at, { label: 'dec.rows' });
    const rec = new Recorder(gpu, members.length === 1 ? `step ${at[0]}` : `step ×${members.length} (${R} rows)`);
    const x = gpu.tensor('dec.embed', [R, cfg.decoder.hidden], 'f32');
    embedRows(rec, w.embed, ids, x, { label: 'dec.embed' });
    // One member: its logits directly; several: one [R, vocab] product, then each member's rows copied out.
    const out = members.length === 1 ? members[0].decoder.logits.rows(0, R)
      : gpu.tensor('dec.logits.all', [R, vocab], 'f32');
    forward(rec, w, cfg, x, R, { caches: cache.layers, rows }, out);
    if (members.length > 1) {
      let r0 = 0;
      for (const { decoder: m, tokens } of members) {
        rec.copy(out, m.logits, tokens.length * vocab * 4, r0 * vocab * 4, 0);
        r0 += tokens.length;
      }
    }
    rec.submit();
    gpu.release(ids, x, rows.table, rows.positions, ...(members.length > 1 ? [out] : []));
    for (const { decoder: m } of members) m.length++;
  }

  /** Throws when this sequence cannot take `tokens` (one per row) as its next step. */
  checkStep(tokens: Int32Array): void {
    if (tokens.length < 1 || tokens.length > this.beams) {
      throw new RangeError(`decoder step: ${tokens.length} tokens for a sequence of ${this.beams} rows`);
    }
    if (this.length >= this.maxSeq) throw new RangeError(`the KV cache is full (${this.maxSeq} positions)`);
  }

  /** Beam b continues from former beam src[b] (u32 [beams]); only generated positions need moving. */
  reorder(rec: Recorder, src: Tensor): void {
    // The prompt was written to row 0 only: the first reorder copies it to every beam.
    const from = this.reordered ? this.promptLength : 0;
    for (const c of this.caches) reorderKv(rec, c, src, this.cache.scratch,
      { pos: this.length, from, label: 'dec.reorder' });
    this.reordered = true;
  }

  /** Frees the logits and this sequence's slots (and the cache, when it is its own). */
  dispose(): void {
    this.cache.take(this.slot, this.beams, false);
    if (this.ownsCache) this.cache.dispose();
    this.gpu.pool.destroy(this.logits.buffer);
  }
}

/** Where a forward's keys go: a prefill chunk of one sequence, or one token per row of a batched step. */
type KvTarget = { caches: KvCache[]; pos: number; tokens: number } | { caches: KvCache[]; rows: DecodeRows };

/** The decoder layers over `n` rows of x0 and lm_head on the last row (prefill) or every row (step) into `logits`. */
function forward(rec: Recorder, w: GlmAsrWeights, cfg: GlmAsrConfig, x0: Tensor, n: number, kv: KvTarget,
  logits: Tensor): void {
  const gpu = rec.gpu;
  const d = cfg.decoder;
  const qDim = d.heads * d.headDim;
  const kvDim = d.kvHeads * d.headDim;
  // Residual stream: layer i reads x (x0 on layer 0, never written), writes mid = x + attention, then
  // out = mid + mlp, and out becomes the next layer's x.
  let x = x0;
  const mid = gpu.tensor('dec.residual.mid', [n, d.hidden], 'f32');
  const out = gpu.tensor('dec.residual.out', [n, d.hidden], 'f32');
  const h = gpu.tensor('dec.h', [n, d.hidden], 'f32');
  const [q, k, v] = splitViews(gpu, 'dec.qkv', n, [qDim, kvDim, kvDim]);
  const attn = gpu.tensor('dec.attn', [n, qDim], 'f32');
  const o = gpu.tensor('dec.o', [n, d.hidden], 'f32');
  const act = gpu.tensor('dec.act', [n, d.ffn], 'f32');
  const scale = 1 / Math.sqrt(d.headDim);
  const attnOpts = { qHeads: d.heads, kvHeads: d.kvHeads, headDim: d.headDim, scale };
  // A prefill's rows are consecutive positions from pos; a step's rows each have their own (the row table).
  const ropeOpts = { headDim: d.headDim, theta: d.ropeTheta,
    ...('rows' in kv ? { positions: kv.rows.positions } : { positionOffset: kv.pos }) };

  rmsNorm(rec, x, w.decoderLayers[0].ln1.w, h, { eps: d.rmsEps, label: 'dec.l0.ln1' });
  w.decoderLayers.forEach((l, i) => {
    const p = `dec.l${i}`;
    const cache = kv.caches[i];
    linearSplit(rec, h, l.qkv.w, undefined, [q, k, v], { label: `${p}.qkv` });
    rope(rec, q, { ...ropeOpts, heads: d.heads, label: `${p}.rope_q` });
    rope(rec, k, { ...ropeOpts, heads: d.kvHeads, label: `${p}.rope_k` });
    if ('rows' in kv) {
      writeKv(rec, k, v, cache, { rows: kv.rows, label: `${p}.write_kv` });
      decodeAttention(rec, q, cache, attn, { ...attnOpts, rows: kv.rows, label: `${p}.attn` });
    } else {
      writeKv(rec, k, v, cache, { pos: kv.pos, tokens: kv.tokens, beams: 1, label: `${p}.write_kv` });
      prefillAttention(rec, q, cache, attn, { ...attnOpts, beams: 1, pos0: kv.pos, tokens: kv.tokens,
        label: `${p}.attn` });
    }
    linear(rec, attn, l.o.w, undefined, o, { label: `${p}.o` });
    addRmsNorm(rec, x, o, l.ln2.w, mid, h, { eps: d.rmsEps, label: `${p}.residual+ln2` });
    linearGlu(rec, h, l.gateUp.w, undefined, act, { label: `${p}.gate_up+silu` });
    linear(rec, act, l.down.w, undefined, o, { label: `${p}.down` });
    const next = i + 1 < w.decoderLayers.length ? w.decoderLayers[i + 1].ln1 : w.decoderNorm;
    addRmsNorm(rec, mid, o, next.w, out, h, { eps: d.rmsEps, label: `${p}.residual+next_norm` });
    x = out;
  });
  // Logits: every row of a step; only the prompt chunk's last row of a prefill.
  const last = 'rows' in kv ? h : h.rows(n - 1, 1);
  linear(rec, last, w.lmHead, undefined, logits, { label: 'dec.lm_head' });
  gpu.release(q /* and k, v: one buffer */, attn, o, act, h, mid, out);
}
