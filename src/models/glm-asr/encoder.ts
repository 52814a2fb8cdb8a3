/**
 * The audio side of GLM-ASR, top to bottom: log-mel windows → conv front end → transformer layers (partial
 * half-split RoPE, bidirectional attention inside each 30 s window) → final LayerNorm → 4-frame merge →
 * projector. All windows run as one batch; attention never crosses a window boundary.
 *
 * Dispatch order per layer (numbered by the Recorder):
 *   ln1 → qkv (one product, three outputs) → rope(q), rope(k) → window attention → o_proj → residual+ln2 →
 *   fc1+bias+GELU → fc2 → residual+next norm
 */
import type { Recorder, Tensor } from '../../gpu';
import { windowAttention } from '../../ops/attention';
import { conv1d, conv1dOutputLength } from '../../ops/conv1d';
import { linear, linearSplit, splitViews } from '../../ops/linear';
import { addLayerNorm, layerNorm } from '../../ops/norm';
import { rope } from '../../ops/rope';
import type { GlmAsrConfig } from './config';
import type { GlmAsrWeights } from './weights';

/**
 * Encodes `windows` log-mel windows (`mel`: f32 [windows, melBins, nFrames], each window normalised on its own)
 * into audio embeddings `out`: f32 [windows × tokensPerWindow, text hidden]. Records into `rec`; the caller
 * submits. Scratch tensors come from the pool and are released before returning (safe: GPU order).
 */
export function encodeAudio(rec: Recorder, w: GlmAsrWeights, cfg: GlmAsrConfig, mel: Tensor, windows: number,
  out: Tensor, taps: EncoderTaps = {}): void {
  const gpu = rec.gpu;
  const e = cfg.encoder;
  const { nFrames } = cfg.frontEnd;
  const d = e.hidden;
  const t1 = conv1dOutputLength(nFrames, 1);
  const t2 = conv1dOutputLength(t1, 2);
  const rows = windows * t2;
  const mergedRows = rows / cfg.projector.mergeFactor;
  if (!Number.isInteger(mergedRows)) throw new Error(`encoder: ${t2} frames per window is not a multiple of the ` +
    `merge factor ${cfg.projector.mergeFactor}`);

  // 1-2. Conv front end (exact GELU fused): mel [W, mel, T] → [W·T, d] → stride 2 → [W·T/2, d].
  const c1 = gpu.tensor('enc.conv1.out', [windows * t1, d], 'f32');
  conv1d(rec, mel, w.conv1.w, w.conv1.b, c1, { input: 'channel-major', windows, stride: 1,
    gelu: true, label: 'enc.conv1' });
  let x = gpu.tensor('enc.x', [rows, d], 'f32');
  conv1d(rec, c1, w.conv2.w, w.conv2.b, x, { input: 'time-major', windows, stride: 2, gelu: true, label: 'enc.conv2' });
  gpu.release(c1);
  if (taps.conv) rec.copy(x, taps.conv);

  const h = gpu.tensor('enc.h', [rows, d], 'f32');
  const qDim = e.heads * e.headDim;
  const kvDim = e.kvHeads * e.headDim;
  const [q, k, v] = splitViews(gpu, 'enc.qkv', rows, [qDim, kvDim, kvDim]);
  const attn = gpu.tensor('enc.attn', [rows, qDim], 'f32');
  const o = gpu.tensor('enc.o', [rows, d], 'f32');
  const mlpAct = gpu.tensor('enc.mlp.act', [rows, e.ffn], 'f32');
  let x2 = gpu.tensor('enc.x2', [rows, d], 'f32');
  const ropeOpts = { headDim: e.headDim, rotaryDim: e.rotaryDim, theta: e.ropeTheta, positionModulo: t2 };
  const attnOpts = { windows, windowLen: t2, heads: e.heads, kvHeads: e.kvHeads, headDim: e.headDim,
    scale: 1 / Math.sqrt(e.headDim) };

  // 3. ln1 of layer 0; later layers get theirs fused with the previous residual add.
  layerNorm(rec, x, w.encoderLayers[0].ln1.w, w.encoderLayers[0].ln1.b!, h, { eps: e.eps, label: 'enc.l0.ln1' });
  w.encoderLayers.forEach((l, i) => {
    const p = `enc.l${i}`;
    linearSplit(rec, h, l.qkv.w, l.qkv.b, [q, k, v], { label: `${p}.qkv` });
    rope(rec, q, { ...ropeOpts, heads: e.heads, label: `${p}.rope_q` });
    rope(rec, k, { ...ropeOpts, heads: e.kvHeads, label: `${p}.rope_k` });
    windowAttention(rec, q, k, v, attn, { ...attnOpts, label: `${p}.attn` });
    linear(rec, attn, l.o.w, l.o.b, o, { label: `${p}.o` });
    addLayerNorm(rec, x, o, l.ln2.w, l.ln2.b!, x2, h, { eps: e.eps, label: `${p}.residual+ln2` });
    [x, x2] = [x2, x];
    linear(rec, h, l.fc1.w, l.fc1.b, mlpAct, { label: `${p}.fc1+gelu`, epilogue: { activation: 'gelu' } });
    linear(rec, mlpAct, l.fc2.w, l.fc2.b, o, { label: `${p}.fc2` });
    const last = i + 1 === w.encoderLayers.length;
    const next = last ? w.encoderNorm : w.encoderLayers[i + 1].ln1;
    const label = last ? `${p}.residual+final_norm` : `${p}.residual+next.ln1`;
    addLayerNorm(rec, x, o, next.w, next.b!, x2, h, { eps: e.eps, label });
    [x, x2] = [x2, x];
    if (taps.layers?.[i]) rec.copy(x, taps.layers[i]);
  });
  if (taps.final) rec.copy(h, taps.final);

  // 4. Merge 4 consecutive frames (a reshape of contiguous rows) and project: linear_1+GELU → linear_2.
  const merged = h.view([mergedRows, d * cfg.projector.mergeFactor]);
  const p1Act = gpu.tensor('proj.linear_1.act', [mergedRows, cfg.projector.hidden], 'f32');
  linear(rec, merged, w.projector1.w, w.projector1.b, p1Act,
    { label: 'proj.linear_1+gelu', epilogue: { activation: 'gelu' } });
  linear(rec, p1Act, w.projector2.w, w.projector2.b, out, { label: 'proj.linear_2' });
  gpu.release(x, x2, h, q /* and k, v: one buffer */, attn, o, mlpAct, p1Act);
}

/** Optional copies of intermediate activations (for the stage-by-stage golden tests). */
export interface EncoderTaps {
  /** After conv2 + GELU: [windows × frames, d]. */
  conv?: Tensor;
  /** Residual stream after layer i: [windows × frames, d]. */
  layers?: (Tensor | undefined)[];
  /** After the final LayerNorm. */
  final?: Tensor;
}

/**
 * Windows per encoder batch: as many as keep the largest activation (the MLP's [frames, ffn], the fused QKV
 * output's 3 × [frames, d], conv1's [2·frames, d] or the projector's [tokens, hidden]) within one storage binding
 * (128 MiB on lavapipe: 4 windows of the real model at f32).
 */
export function encoderWindowBatch(cfg: GlmAsrConfig, maxBindingBytes: number): number {
  const frames = encoderFrames(cfg);
  const t1 = conv1dOutputLength(cfg.frontEnd.nFrames, 1);
  const perWindow = 4 * Math.max(frames * cfg.encoder.ffn,
    3 * frames * cfg.encoder.heads * cfg.encoder.headDim, t1 * cfg.encoder.hidden,
    (frames / cfg.projector.mergeFactor) * cfg.projector.hidden,
    cfg.frontEnd.melBins * cfg.frontEnd.nFrames);
  const n = Math.floor(maxBindingBytes / perWindow);
  if (n < 1) throw new RangeError(`one encoder window needs ${perWindow}-byte activations, more than the ` +
    `${maxBindingBytes}-byte storage binding limit`);
  return Math.min(n, cfg.frontEnd.maxWindows);
}

/** Encoder frames per window after the stride-2 conv, and audio tokens per full window. */
export function encoderFrames(cfg: GlmAsrConfig): number {
  return conv1dOutputLength(conv1dOutputLength(cfg.frontEnd.nFrames, 1), 2);
}
