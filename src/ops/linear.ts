/**
 * Precision-agnostic entry points for model code: one call for a weight matrix in any storage the engine
 * supports (float RowBlockedMatrix → matmul / embed; its subclasses Int8Matrix and Int4Matrix → matmulInt8 /
 * embedInt8), plus the fused shapes the model uses: several outputs from one stacked product ([q; k; v]) and the
 * gated MLP.
 *
 * @example
 * linear(rec, h, l.fc1.w, l.fc1.b, act, { label: 'enc.l0.fc1', epilogue: { activation: 'gelu' } });
 * const [q, k, v] = splitViews(gpu, 'dec.qkv', rows, [qDim, kvDim, kvDim]);
 * linearSplit(rec, h, l.qkv.w, undefined, [q, k, v], { label: 'dec.l0.qkv' });
 * linearGlu(rec, h, l.gateUp.w, undefined, act, { label: 'dec.l0.gate_up+silu' });
 */
import { Tensor, type Gpu, type Recorder, type RowBlockedMatrix } from '../gpu';
import { siluMul, type LabelOptions } from './elementwise';
import { embed } from './embedding';
import { chooseMatmulVariant, GLU_VARIANTS, matmul, type MatmulOptions } from './matmul';
import { Int4Matrix } from './matmul-int4';
import { embedInt8, Int8Matrix, matmulInt8 } from './matmul-int8';


/** A matrix weight in any storage the engine supports (float RowBlockedMatrix, or its subclasses Int8/Int4Matrix). */
export type WeightMatrix = RowBlockedMatrix;

/** Options of `linear`: the matmul options (INT8 weights accept label, yCol/yRowStride, epilogue). */
export type LinearOptions = MatmulOptions;

/**
 * y = x · Wᵀ (+ b) for float (matmul) or INT8 / 4-bit (matmulInt8) weights.
 * @example
 * linear(rec, h, l.fc1.w, l.fc1.b, act, { label: 'enc.l0.fc1', epilogue: { activation: 'gelu' } }); // fused bias+GELU
 */
export function linear(rec: Recorder, x: Tensor, w: WeightMatrix, bias: Tensor | undefined, y: Tensor,
  o: LinearOptions = {}): void {
  if (w instanceof Int8Matrix || w instanceof Int4Matrix) {
    if (o.alpha !== undefined && o.alpha !== 1) {
      throw new RangeError(`${o.label ?? 'linear'}: alpha is not supported with quantised weights`);
    }
    matmulInt8(rec, x, w, bias, y, { label: o.label, yCol: o.yCol, yRowStride: o.yRowStride, epilogue: o.epilogue });
  } else {
    matmul(rec, x, w, bias, y, o);
  }
}

/**
 * One product over weight rows that are several matrices stacked ([q; k; v]), writing each one's columns to
 * its own output: outs[i] is [M, rows of part i], all views of one buffer (allocate them with `splitViews`).
 * @example
 * const [q, k, v] = splitViews(gpu, 'dec.qkv', rows, [qDim, kvDim, kvDim]);
 * linearSplit(rec, h, l.qkv.w, undefined, [q, k, v], { label: 'dec.l0.qkv' });
 */
export function linearSplit(rec: Recorder, x: Tensor, w: WeightMatrix, bias: Tensor | undefined,
  outs: readonly Tensor[], opts: LabelOptions = {}): void {
  const label = opts.label ?? 'linear_split';
  const widths = outs.map((t) => t.shape[t.shape.length - 1]);
  if (widths.reduce((a, b) => a + b, 0) !== w.rows) {
    throw new RangeError(`${label}: outputs of widths ${widths.join('+')} do not cover the ${w.rows} weight rows`);
  }
  const segments = outs.slice(1).map((y, i) => ({ col: widths.slice(0, i + 1).reduce((a, b) => a + b, 0), y }));
  linear(rec, x, w, bias, outs[0], { label, epilogue: { segments } });
}

/**
 * Views [rows, width_i] of one pooled buffer, each starting at a storage-offset-aligned byte (release them with
 * `gpu.release(views[0])`, which frees the buffer).
 */
export function splitViews(gpu: Gpu, label: string, rows: number, widths: readonly number[]): Tensor[] {
  const align = gpu.caps.storageOffsetAlignment;
  const starts: number[] = [];
  let bytes = 0;
  for (const w of widths) {
    starts.push(bytes);
    bytes = Math.ceil((bytes + rows * w * 4) / align) * align;
  }
  const whole = gpu.tensor(label, [bytes / 4], 'f32');
  return widths.map((w, i) => new Tensor(whole.buffer, [rows, w], 'f32', whole.byteOffset + starts[i]));
}

/** True when `linearGlu` runs as one fused dispatch for this weight and M (else: split product + silu·mul). */
export function gluFused(gpu: Gpu, w: WeightMatrix, M: number): boolean {
  if (w.blocks.length > 1) return false;
  return w instanceof Int8Matrix || w instanceof Int4Matrix || GLU_VARIANTS.includes(chooseMatmulVariant(gpu, M));
}

/**
 * out [M, F] = silu(x · gateᵀ + b_gate) ⊙ (x · upᵀ + b_up) for W = [gate; up] ([2F, K], stacked at load) and an
 * optional bias [b_gate; b_up]: one dispatch on the column-lane kernels (CPU adapters, INT8), else a split
 * product into pooled gate/up buffers and silu·mul.
 */
export function linearGlu(rec: Recorder, x: Tensor, w: WeightMatrix, bias: Tensor | undefined, out: Tensor,
  opts: LabelOptions = {}): void {
  const label = opts.label ?? 'linear_glu';
  const F = w.rows / 2;
  if (!Number.isInteger(F)) {
    throw new RangeError(`${label}: [gate; up] "${w.blocks[0].tensor.label}" has an odd number of rows (${w.rows})`);
  }
  const M = x.numel / w.cols;
  if (gluFused(rec.gpu, w, M)) {
    linear(rec, x, w, bias, out, { label, epilogue: { gluRows: F } });
    return;
  }
  const [gate, up] = splitViews(rec.gpu, `${label}.gate_up`, M, [F, F]);
  linearSplit(rec, x, w, bias, [gate, up], { label });
  siluMul(rec, gate, up, out, { label: `${label}.silu_mul` });
  rec.gpu.release(gate);
}

/** Embedding gather from a float, INT8 or 4-bit table into rows dstRow0.. of out. */
export function embedRows(rec: Recorder, table: WeightMatrix, ids: Tensor, out: Tensor, opts: LabelOptions = {}): void {
  if (table instanceof Int8Matrix || table instanceof Int4Matrix) embedInt8(rec, table, ids, out, opts);
  else embed(rec, table, ids, out, opts);
}
