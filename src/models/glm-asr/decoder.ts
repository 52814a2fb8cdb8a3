/**
 * The Llama text decoder of GLM-ASR with a static KV cache (allocated once for `beams` rows and `maxSeq`
 * positions; no allocation per token). Two entry points:
 *   prefill(embeds[T, d])  — beam row 0, positions 0..T−1, causal; leaves the last position's logits.
 *   step(ids[B])           — one new token per beam at position `pos`; leaves [B, vocab] logits.
 * Dispatch order per layer: rmsnorm → qkv (one product, three outputs) → rope(q), rope(k) → write KV →
 * attention → o_proj → residual+rmsnorm → gate/up+silu·mul (one product where the kernel can fuse it) → down →
 * residual+next rmsnorm; then lm_head.
 */
import { type Gpu, type Recorder, Tensor } from '../../gpu';
import { decodeAttention, prefillAttention } from '../../ops/attention';
import { KvCache, reorderKv, writeKv } from '../../ops/kv-cache';
import { embedRows, linear, linearGlu, linearSplit, splitViews } from '../../ops/linear';
import { addRmsNorm, rmsNorm } from '../../ops/norm';
import { rope } from '../../ops/rope';
import type { GlmAsrConfig } from './config';
import type { GlmAsrWeights } from './weights';

export class Decoder {
  readonly caches: KvCache[];
  private readonly scratchCache: KvCache;
  /** [beams, vocab] logits of the last forward (prefill fills row 0 only). */
  readonly logits: Tensor;
  /** Positions held in the cache (the prompt plus generated tokens). */
  length = 0;
  private promptLength = 0;

  constructor(private readonly gpu: Gpu, private readonly w: GlmAsrWeights, private readonly cfg: GlmAsrConfig,
    readonly beams: number, readonly maxSeq: number) {
    const d = cfg.decoder;
    const shape = { beams, maxSeq, kvHeads: d.kvHeads, headDim: d.headDim };
    this.caches = w.decoderLayers.map((_, i) => KvCache.create(gpu, `dec.l${i}`, shape));
    this.scratchCache = KvCache.create(gpu, 'dec.reorder_scratch', shape);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.logits = new Tensor(gpu.pool.create('dec.logits', beams * d.vocab * 4, usage), [beams, d.vocab], 'f32');
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
      this.forward(rec, embeds.rows(t0, n), n, 1, t0);
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

  /** One token per beam (ids: u32 [beams]) at the next position. */
  step(rec: Recorder, ids: Tensor, beams: number): void {
    if (this.length >= this.maxSeq) throw new RangeError(`the KV cache is full (${this.maxSeq} positions)`);
    const x = this.gpu.tensor('dec.embed', [beams, this.cfg.decoder.hidden], 'f32');
    embedRows(rec, this.w.embed, ids, x, { label: 'dec.embed' });
    this.forward(rec, x, 1, beams, this.length);
    this.gpu.release(x);
    this.length++;
  }

  /** Beam b continues from former beam src[b] (u32 [beams]); only generated positions need moving. */
  reorder(rec: Recorder, src: Tensor): void {
    // The prompt was written to row 0 only: the first reorder copies it to every beam.
    const from = this.reordered ? this.promptLength : 0;
    for (const c of this.caches) reorderKv(rec, c, src, this.scratchCache,
      { pos: this.length, from, label: 'dec.reorder' });
    this.reordered = true;
  }
  private reordered = false;

  /** Frees the KV caches and logits (permanent buffers sized for this decoder). */
  dispose(): void {
    for (const c of [...this.caches, this.scratchCache]) c.destroy(this.gpu);
    this.gpu.pool.destroy(this.logits.buffer);
  }

  private forward(rec: Recorder, x0: Tensor, tokens: number, beams: number, pos: number): void {
    const gpu = this.gpu;
    const d = this.cfg.decoder;
    const rows = tokens * beams;
    const qDim = d.heads * d.headDim;
    const kvDim = d.kvHeads * d.headDim;
    // Residual stream: layer i reads x (x0 on layer 0, never written), writes mid = x + attention, then
    // out = mid + mlp, and out becomes the next layer's x.
    let x = x0;
    const mid = gpu.tensor('dec.residual.mid', [rows, d.hidden], 'f32');
    const out = gpu.tensor('dec.residual.out', [rows, d.hidden], 'f32');
    const h = gpu.tensor('dec.h', [rows, d.hidden], 'f32');
    const [q, k, v] = splitViews(gpu, 'dec.qkv', rows, [qDim, kvDim, kvDim]);
    const attn = gpu.tensor('dec.attn', [rows, qDim], 'f32');
    const o = gpu.tensor('dec.o', [rows, d.hidden], 'f32');
    const act = gpu.tensor('dec.act', [rows, d.ffn], 'f32');
    const scale = 1 / Math.sqrt(d.headDim);
    const attnOpts = { qHeads: d.heads, kvHeads: d.kvHeads, headDim: d.headDim, scale, beams };
    // Every beam row of a step sits at the same position; a prefill's rows are consecutive positions.
    const ropeOpts = { headDim: d.headDim, theta: d.ropeTheta, positionOffset: pos,
      positionModulo: tokens === 1 ? 1 : undefined };

    rmsNorm(rec, x, this.w.decoderLayers[0].ln1.w, h, { eps: d.rmsEps, label: 'dec.l0.ln1' });
    this.w.decoderLayers.forEach((l, i) => {
      const p = `dec.l${i}`;
      linearSplit(rec, h, l.qkv.w, undefined, [q, k, v], { label: `${p}.qkv` });
      rope(rec, q, { ...ropeOpts, heads: d.heads, label: `${p}.rope_q` });
      rope(rec, k, { ...ropeOpts, heads: d.kvHeads, label: `${p}.rope_k` });
      writeKv(rec, k, v, this.caches[i], { pos, tokens, beams, label: `${p}.write_kv` });
      const cache = this.caches[i];
      if (tokens === 1) decodeAttention(rec, q, cache, attn, { ...attnOpts, pos: pos + 1, label: `${p}.attn` });
      else prefillAttention(rec, q, cache, attn, { ...attnOpts, pos0: pos, tokens, label: `${p}.attn` });
      linear(rec, attn, l.o.w, undefined, o, { label: `${p}.o` });
      addRmsNorm(rec, x, o, l.ln2.w, mid, h, { eps: d.rmsEps, label: `${p}.residual+ln2` });
      linearGlu(rec, h, l.gateUp.w, undefined, act, { label: `${p}.gate_up+silu` });
      linear(rec, act, l.down.w, undefined, o, { label: `${p}.down` });
      const next = i + 1 < this.w.decoderLayers.length ? this.w.decoderLayers[i + 1].ln1 : this.w.decoderNorm;
      addRmsNorm(rec, mid, o, next.w, out, h, { eps: d.rmsEps, label: `${p}.residual+next_norm` });
      x = out;
    });
    // Logits: the last position of each beam (prefill: only the prompt's last row).
    const last = tokens === 1 ? h : h.rows(rows - 1, 1);
    linear(rec, last, this.w.lmHead, undefined, this.logits.rows(0, beams), { label: 'dec.lm_head' });
    gpu.release(q /* and k, v: one buffer */, attn, o, act, h, mid, out);
  }
}
