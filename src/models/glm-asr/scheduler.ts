/**
 * Continuous batching of decoder steps (docs/batching.md). Concurrent transcriptions of one GlmAsr each open a
 * `Decoder` on one shared `DecoderCache` (a contiguous run of slots: one per beam) and drive their own search;
 * their `step` calls meet at a barrier, and one forward serves the rows of every sequence that is stepping.
 *
 *   acquire(beams, maxSeq) waits (first come, first served) until the rows fit under `maxBatch` and the cache has
 *                        room; prefill then runs as the sequence's own submission, between steps.
 *   step(decoder, ids)   joins the barrier: the batched step runs once every member (a sequence that has stepped
 *                        and not closed) is waiting, so sequences join and leave between steps; its rows go in
 *                        forwards of at most 8 (the matrix-vector kernels' rows, see `forwards`).
 *   release(decoder)     leaves: frees the rows and slots, releases the barrier if the others were waiting.
 *
 * A row's logits do not depend on the other rows of its step (`Decoder.step`), so the ids equal running alone.
 */
import type { Gpu } from '../../gpu';
import { GEMV_MAX_ROWS } from '../../ops/matmul';
import type { GlmAsrConfig } from './config';
import { Decoder, DecoderCache } from './decoder';
import type { GlmAsrWeights } from './weights';

/** Counts of the batched steps (for tests, benchmarks and the server's status). */
export interface BatchStats {
  /** Decoder steps run. */
  steps: number;
  /** Rows over all steps (rows / steps: the mean batch). */
  rows: number;
  /** Most rows of one step. */
  widest: number;
  /** Most sequences of one step. */
  widestSequences: number;
  /** Most transcriptions whose windows went in one encoder submission. */
  widestEncoderBatch: number;
}

interface Waiter {
  beams: number;
  maxSeq: number;
  resolve: (d: Decoder) => void;
  reject: (e: unknown) => void;
  /** Removes the abort listener (once admitted: a long file's segments must not pile listeners on one signal). */
  detach: () => void;
}

interface Pending {
  tokens: Int32Array;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class DecodeScheduler {
  private cache: DecoderCache | undefined;
  private readonly waiting: Waiter[] = [];
  /** Open sequences; a member (in the barrier) from its first step on, with its pending step if any. */
  private readonly open = new Set<Decoder>();
  private readonly members = new Map<Decoder, Pending | undefined>();
  private rows = 0;
  readonly stats: BatchStats = { steps: 0, rows: 0, widest: 0, widestSequences: 0, widestEncoderBatch: 0 };

  /**
   * `maxBatch`: most rows of all open sequences together (a sequence wider than that runs alone);
   * `slotPositions`: positions a new cache's slots hold at least, so later sequences of the usual size fit.
   */
  constructor(private readonly gpu: Gpu, private readonly weights: GlmAsrWeights,
    private readonly config: GlmAsrConfig, readonly maxBatch: number, private readonly maxBeams: number,
    private readonly slotPositions: number) {}

  /** A decoder of `beams` rows and `maxSeq` positions on the shared cache, once it fits (FIFO). */
  acquire(beams: number, maxSeq: number, signal?: AbortSignal): Promise<Decoder> {
    signal?.throwIfAborted();
    return new Promise<Decoder>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        reject(signal!.reason);
        this.admit(); // the next in line may fit now
      };
      const waiter: Waiter = { beams, maxSeq, resolve, reject,
        detach: () => signal?.removeEventListener('abort', onAbort) };
      this.waiting.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.admit();
    });
  }

  /** Joins the step barrier with one token per row (`tokens.length` rows from row 0). */
  step(decoder: Decoder, tokens: Int32Array): Promise<void> {
    if (!this.open.has(decoder)) return Promise.reject(new Error('decoder step: the sequence is not open'));
    return new Promise<void>((resolve, reject) => {
      this.members.set(decoder, { tokens, resolve, reject });
      this.fire();
    });
  }

  /** The sequence leaves: its rows and slots are freed (after its last submission), others may step or join. */
  release(decoder: Decoder): void {
    if (!this.open.delete(decoder)) return;
    const pending = this.members.get(decoder);
    this.members.delete(decoder);
    pending?.reject(new Error('decoder step: the sequence was closed while waiting'));
    decoder.dispose();
    this.rows -= decoder.beams;
    this.fire();
    this.admit();
  }

  /** Frees the shared cache (no sequence may be open). */
  dispose(): void {
    for (const w of this.waiting.splice(0)) {
      w.detach();
      w.reject(new Error('the model was disposed'));
    }
    this.cache?.dispose();
    this.cache = undefined;
  }

  private fits(w: Waiter): boolean {
    if (this.rows === 0) return true; // alone: whatever its size (a new cache is made below if needed)
    return this.rows + w.beams <= this.maxBatch && this.cache !== undefined && this.cache.maxSeq >= w.maxSeq &&
      this.cache.findFree(w.beams) !== undefined;
  }

  private admit(): void {
    while (this.waiting.length && this.fits(this.waiting[0])) {
      const w = this.waiting.shift()!;
      w.detach();
      try {
        const decoder = new Decoder(this.gpu, this.weights, this.config, w.beams, w.maxSeq, this.cacheFor(w));
        this.open.add(decoder);
        this.rows += w.beams;
        w.resolve(decoder);
      } catch (e) {
        w.reject(e);
      }
    }
  }

  /**
   * The shared cache, remade (when nothing is open) if it is missing or too small for `w`: slots for `maxBatch`
   * rows as far as one K or V tensor fits a storage binding and all of them the adapter's largest buffer (the
   * memory rule of the default maxBatch), and never fewer than `w` needs.
   */
  private cacheFor(w: Waiter): DecoderCache {
    const c = this.cache;
    if (c && c.maxSeq >= w.maxSeq && c.findFree(w.beams) !== undefined) return c;
    c?.dispose();
    this.cache = undefined;
    // At least a usual sequence's positions, so later sequences of the usual size fit beside this one.
    const maxSeq = Math.max(w.maxSeq, Math.min(this.slotPositions, this.config.decoder.maxPositions));
    const d = this.config.decoder;
    const caps = this.gpu.caps;
    const tensorBytes = d.kvHeads * d.headDim * 4 * DecoderCache.positions(maxSeq);
    const fit = Math.min(Math.floor(caps.maxStorageBindingBytes / tensorBytes),
      Math.floor(caps.maxBufferBytes / DecoderCache.slotBytes(this.config, maxSeq)));
    const slots = Math.max(w.beams, Math.min(this.maxBatch, fit));
    this.cache = new DecoderCache(this.gpu, this.weights, this.config, slots, maxSeq,
      Math.max(this.maxBeams, w.beams));
    return this.cache;
  }

  /** Runs the batched step when every member waits at the barrier. */
  private fire(): void {
    if (!this.members.size) return;
    for (const p of this.members.values()) if (!p) return;
    const batch: { decoder: Decoder; pending: Pending }[] = [];
    for (const [decoder, pending] of this.members) {
      this.members.set(decoder, undefined);
      try {
        decoder.checkStep(pending!.tokens); // a sequence that cannot step fails alone, not the whole step
        batch.push({ decoder, pending: pending! });
      } catch (e) {
        pending!.reject(e);
      }
    }
    for (const group of forwards(batch)) {
      try {
        Decoder.step(this.gpu, group.map(({ decoder, pending }) => ({ decoder, tokens: pending.tokens })));
      } catch (e) {
        for (const { pending } of group) pending.reject(e);
        continue;
      }
      const rows = group.reduce((n, b) => n + b.pending.tokens.length, 0);
      const s = this.stats;
      s.steps++;
      s.rows += rows;
      s.widest = Math.max(s.widest, rows);
      s.widestSequences = Math.max(s.widestSequences, group.length);
      for (const { pending } of group) pending.resolve();
    }
  }
}

/**
 * The stepping sequences cut into forwards of at most GEMV_MAX_ROWS rows (a sequence is never split; a wider one
 * goes alone, as it would run alone). Up to that many rows every matmul runs a matrix-vector kernel, whose
 * reduction order per row does not depend on the rows beside it; above it the kernels switch to GEMM variants
 * that round differently, and the ids would depend on which requests run together.
 */
function forwards<T extends { pending: Pending }>(batch: readonly T[]): T[][] {
  const out: T[][] = [];
  let rows = 0;
  for (const b of batch) {
    const n = b.pending.tokens.length;
    if (!out.length || rows + n > GEMV_MAX_ROWS) {
      out.push([]);
      rows = 0;
    }
    out[out.length - 1].push(b);
    rows += n;
  }
  return out;
}
