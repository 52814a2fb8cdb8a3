/**
 * INT8 weights (docs/int8.md): `y = x · dequant(Wq)ᵀ + b` with Wq [N, K] int8, symmetric per output row in groups
 * of G along K (f32 scales [N, ceil(K/G)]), f32 activations and outputs, f32 accumulation; and the embedding
 * gather from an INT8 table. Kernel variants (shaders/matmul-int8.wgsl), chosen in ONE place (`chooseInt8Variant`):
 *   w8        weight-only, 32 k per step: int8 weights unpacked to f32 in registers, per-group partial sums,
 *             f32 activations (exact up to f32 rounding w.r.t. the dequantised weights) — decode (M ≤ 8)
 *   w8 + k8   weight-only, 8 k per step, scales folded into the widened weights — GEMM (M > 8)
 *   w8a8      activations quantised per row and group on the fly (shaders/quantize-act.wgsl), i32 dot products per
 *             group (`dot4I8Packed` where the WGSL language feature exists, else shift-unpacking), scaled into f32
 * All use the column-lane layout of the f32 kernel (subgroup broadcast of activations, one subgroup per
 * workgroup, TM rows per workgroup: 1/2/4/8 for M ≤ 8, 16 above).
 *
 * GPU layout of an `Int8Matrix`: row blocks (each ≤ one storage binding), each a u32 tensor [rows, Kp/4] of int8
 * (4 per word, byte 0 = lowest k; rows zero-padded to Kp = groups·G bytes by weights/quant `padRows`, so every
 * group is whole and rows are 16-byte aligned) plus an f32 tensor of scales [rows, groups]. The checkpoint form
 * (unpadded I8 rows, F16 scales) and the group sizes are defined in src/weights/quant.ts; Int8Matrix takes it as is.
 *
 * @example
 * const w = uploadInt8Matrix(gpu, 'fc1', q, scales, N, K, 64);   // q: Int8Array [N,K], scales f16 bits [N,groups]
 * matmulInt8(rec, x, w, bias, y, { label: 'enc.l0.fc1' });
 */
import {
  bindSpan, f16BitsToF32, grid, maxBinding, Tensor, type Gpu, type KernelSpec, type Recorder,
} from '../gpu';
import { GROUP_SIZES, groupsOf, padRows, paddedRowBytes } from '../weights/quant';
import { columnLaneConfig, GEMV_MAX_ROWS } from './matmul';
import { createQuantBlocks, Int4Matrix, QuantBlockedMatrix } from './matmul-int4';
import { bindOutputs, checkEpilogue, mainOutputColumns, type MatmulEpilogue } from './matmul-epilogue';

/**
 * A [rows, cols] INT8 matrix in row blocks, with per-row, per-group f32 scales. It is a RowBlockedMatrix whose
 * blocks are the int8 words (dtype 'u32'), so that it fits wherever model code holds a matrix weight; the float
 * ops (matmul, embed) reject it (u32 weights), `linear` / `embedRows` / `matmulInt8` / `embedInt8` take it.
 * Per block: int8 rows as u32 [rows, rowBytes/4] and f32 scales [rows, groups].
 */
export class Int8Matrix extends QuantBlockedMatrix {
  /** Bytes per stored row (cols padded to whole groups). */
  get rowBytes(): number {
    return paddedRowBytes(this.cols, this.groupSize);
  }

  /** Permanent (non-pooled) buffers, split into row blocks that each fit `maxBlockBytes`. */
  static create(
    gpu: Gpu, label: string, rows: number, cols: number, groupSize: number,
    maxBlockBytes = gpu.caps.maxStorageBindingBytes,
  ): Int8Matrix {
    const blocks = createQuantBlocks(gpu, 'Int8Matrix', label, rows, groupSize,
      paddedRowBytes(cols, groupSize), groupsOf(cols, groupSize), 'f32', maxBlockBytes);
    return new Int8Matrix(blocks, rows, cols, groupSize);
  }

  /** Writes whole int8 rows as the checkpoint stores them (cols bytes each, unpadded) starting at row0. */
  writeQ(gpu: Gpu, row0: number, q: Uint8Array | Int8Array): void {
    const rb = this.rowBytes;
    const n = q.byteLength / this.cols;
    if (!Number.isInteger(n)) {
      throw new RangeError(`Int8Matrix.writeQ: ${q.byteLength} bytes are not whole rows of ${this.cols} bytes`);
    }
    if (row0 < 0 || row0 + n > this.rows) {
      throw new RangeError(`Int8Matrix.writeQ: rows ${row0}..${row0 + n} exceed ${this.rows}`);
    }
    const bytes = padRows(q, n, this.cols, this.groupSize);
    for (const b of this.qblocks) {
      const lo = Math.max(row0, b.row0);
      const hi = Math.min(row0 + n, b.row0 + b.rows);
      if (lo < hi) gpu.write(b.q, bytes.subarray((lo - row0) * rb, (hi - row0) * rb), ((lo - b.row0) * rb) / 4);
    }
  }

  /** Writes whole rows of scales (groups each; f16 bits as the checkpoint stores them, or f32) starting at row0. */
  writeScales(gpu: Gpu, row0: number, stored: Uint16Array | Float32Array): void {
    const scales = stored instanceof Uint16Array ? f16BitsToF32(stored) : stored;
    const g = this.groups;
    const n = scales.length / g;
    if (!Number.isInteger(n)) {
      throw new RangeError(`Int8Matrix.writeScales: ${scales.length} scales are not whole rows of ${g}`);
    }
    if (row0 < 0 || row0 + n > this.rows) {
      throw new RangeError(`Int8Matrix.writeScales: rows ${row0}..${row0 + n} exceed ${this.rows}`);
    }
    for (const b of this.qblocks) {
      const lo = Math.max(row0, b.row0);
      const hi = Math.min(row0 + n, b.row0 + b.rows);
      if (lo < hi) gpu.write(b.s, scales.subarray((lo - row0) * g, (hi - row0) * g), (lo - b.row0) * g);
    }
  }
}

/**
 * Uploads a quantised matrix from host arrays: q [rows, cols] int8 (unpadded), scales [rows, groups] as f16 bits
 * (as stored in the checkpoint) or f32.
 */
export function uploadInt8Matrix(gpu: Gpu, label: string, q: Int8Array, scales: Uint16Array | Float32Array,
  rows: number, cols: number, groupSize: number, maxBlockBytes?: number): Int8Matrix {
  const m = Int8Matrix.create(gpu, label, rows, cols, groupSize, maxBlockBytes);
  m.writeQ(gpu, 0, q.subarray(0, rows * cols));
  m.writeScales(gpu, 0, scales);
  return m;
}

// ------------------------------------------------------------------------------------------------------------
// Variant choice
// ------------------------------------------------------------------------------------------------------------

/** w8: weight-only (f32 activations); w8a8: activations quantised per row/group, integer dot products. */
export type Int8Mode = 'w8' | 'w8a8';

export interface Int8Variant {
  mode: Int8Mode;
  /** Use the packed_4x8_integer_dot_product builtins (dot4I8Packed / unpack4xI8 / pack4xI8); else shifts. */
  dot4: boolean;
  /** Output rows per workgroup (1..16). */
  rows: number;
  /**
   * Weight-only only: the "k8" kernel (8 k per step, one vec2<u32> of weights per column, scales folded into the
   * widened weights, no per-group partial sums) instead of the default 32 k per step with per-group partials.
   */
  k8?: boolean;
}

/**
 * THE choice of INT8 kernel (the only place), from the adapter and M. Measured on lavapipe (docs/int8.md):
 *   M ≤ 8 (decode, beams):  weight-only, 32 k per step, TM = the smallest of 1/2/4/8 ≥ M. Decode M=1 K=2048
 *                           N=6144 runs ~2.5× faster than f32 (W8A8 is no faster there and less accurate).
 *   M > 8 (encoder, prefill): weight-only "k8" kernel, TM = 16 (4 without subgroups): as fast as f16 weights and
 *                           1.25× f32 at 1500×1280×5120; the k32 kernel spills at TM = 16 and W8A8 (dot4I8Packed:
 *                           lavapipe emulates it with 32-bit integer multiplies) only matches f32.
 * Weight-only kernels unpack with shifts (dot4 = false): the unpack4xI8 builtin measured the same or slower and
 * needs the language feature. W8A8 stays available through `variant` (tests, benchmarks). On hardware GPUs the
 * same choice is made; it is unmeasured there (no GPU on the development machine).
 */
export function chooseInt8Variant(gpu: Gpu, M: number): Int8Variant {
  if (M <= GEMV_MAX_ROWS) return { mode: 'w8', dot4: false, rows: M <= 1 ? 1 : M <= 2 ? 2 : M <= 4 ? 4 : 8, k8: false };
  return { mode: 'w8', dot4: false, rows: columnLaneConfig(gpu).subgroups ? 16 : 4, k8: true };
}

// ------------------------------------------------------------------------------------------------------------
// Activation quantisation
// ------------------------------------------------------------------------------------------------------------

/** Where quantised activations live: words [0, M·Kp/4) int8 rows, then f32 scales [M, groups] (as bits). */
export interface QuantizedActivations {
  buf: Tensor;
  M: number;
  K: number;
  groupSize: number;
  /** Words per row (Kp / 4). */
  ldq: number;
  /** Word offset of the scales. */
  sOff: number;
}

/** Words a QuantizedActivations buffer needs. */
export function quantizedActivationWords(M: number, K: number, G: number): number {
  const groups = groupsOf(K, G);
  return M * groups * (G / 4) + M * groups;
}

const QWG = 64;

export interface QuantizeActivationsOptions {
  /** Rows, row length and group size of x. */
  M: number;
  K: number;
  groupSize: number;
  /** Elements between row starts of x; default K. */
  ldx?: number;
  /** Pack for dot4I8Packed; default where the language feature exists. */
  dot4?: boolean;
  label?: string;
}

/**
 * Quantises x [M, K] (f32, rows ldx apart) per row and group of G into `out` (u32, at least
 * quantizedActivationWords(M, K, G) words).
 */
export function quantizeActivations(rec: Recorder, x: Tensor, out: Tensor,
  opts: QuantizeActivationsOptions): QuantizedActivations {
  const { M, K, groupSize: G } = opts;
  const label = opts.label ?? 'quantize_act';
  const ldx = opts.ldx ?? K;
  const groups = groupsOf(K, G);
  const ldq = paddedRowBytes(K, G) / 4;
  const sOff = M * ldq;
  if (x.dtype !== 'f32') throw new TypeError(`${label}: x "${x.label}" is ${x.dtype}, expected f32`);
  if (out.dtype !== 'u32') throw new TypeError(`${label}: output "${out.label}" is ${out.dtype}, expected u32`);
  if (!(GROUP_SIZES as readonly number[]).includes(G)) throw new RangeError(`${label}: group size ${G}`);
  if (M > 0 && (M - 1) * ldx + K > x.numel) {
    throw new RangeError(
      `${label}: x "${x.label}" has ${x.numel} elements, ${M} rows of ${K} (stride ${ldx}) need more`);
  }
  if (out.numel < sOff + M * groups) {
    throw new RangeError(`${label}: output "${out.label}" has ${out.numel} words, needs ${sOff + M * groups}`);
  }
  const q = { buf: out, M, K, groupSize: G, ldq, sOff };
  if (M === 0) return q;
  const dot4 = opts.dot4 ?? rec.gpu.caps.packedDot4;
  if (dot4 && !rec.gpu.caps.packedDot4) {
    throw new Error(`${label}: dot4 needs the WGSL language feature packed_4x8_integer_dot_product`);
  }
  const xs = bindSpan(rec, x, 0, x.numel);
  const os = bindSpan(rec, out, 0, sOff + M * groups);
  rec.dispatch({ shader: 'quantize-act.wgsl', defines: { DOT4: dot4 }, constants: { WG: QWG } }, label,
    [xs.binding, os.binding], [M, K, groups, G, xs.base, ldx, os.base, ldq, os.base + sOff],
    grid(Math.ceil((M * groups) / QWG), rec.gpu.caps.maxWorkgroupsPerDimension));
  return { ...q, sOff: sOff };
}

// ------------------------------------------------------------------------------------------------------------
// Matmul
// ------------------------------------------------------------------------------------------------------------

export interface Int8MatmulOptions {
  label?: string;
  /** Override the kernel (tests, benchmarks); missing fields come from chooseInt8Variant. */
  variant?: Partial<Int8Variant>;
  /** Write y's columns [yCol, yCol + N) of rows yRowStride apart (defaults 0 and N). */
  yCol?: number;
  yRowStride?: number;
  /** Fused output handling (GELU, output segments, GLU); see matmul-epilogue.ts. */
  epilogue?: MatmulEpilogue;
}

/** A quantised matrix: INT8, or 4-bit (ops/matmul-int4, the same kernels compiled with INT4; weight-only). */
export type QuantMatrix = Int8Matrix | Int4Matrix;

/**
 * y[M, yCol : yCol + N] = x[M, K] · dequant(W)ᵀ (+ bias [N]). x may have any leading shape; M = x.numel / K.
 * `y` must not share a buffer with x or bias.
 */
export function matmulInt8(rec: Recorder, x: Tensor, w: QuantMatrix, bias: Tensor | undefined, y: Tensor,
  o: Int8MatmulOptions = {}): void {
  const label = o.label ?? 'matmul_int8';
  const gpu = rec.gpu;
  const N = w.rows;
  const K = w.cols;
  const G = w.groupSize;
  const fail = (msg: string): never => { throw new RangeError(`${label}: ${msg}`); };
  if (x.dtype !== 'f32') fail(`x "${x.label}" is ${x.dtype}, expected f32`);
  if (y.dtype !== 'f32') fail(`y "${y.label}" is ${y.dtype}, expected f32`);
  if (bias && bias.dtype !== 'f32') fail(`bias "${bias.label}" is ${bias.dtype}, expected f32`);
  if (x.numel % K !== 0) fail(`x "${x.label}" [${x.shape}] is not a whole number of rows of K=${K}`);
  const M = x.numel / K;
  const ep = o.epilogue ?? {};
  checkEpilogue(label, y, M, N, ep);
  if (ep.gluRows !== undefined && w.qblocks.length > 1) {
    fail(`a fused GLU needs [gate; up] in one binding; "${w.qblocks[0].q.label}" is split into ` +
      `${w.qblocks.length} blocks`);
  }
  const yCols = mainOutputColumns(N, ep);
  const yCol = o.yCol ?? 0;
  const ldy = o.yRowStride ?? yCols;
  if (yCol + yCols > ldy) fail(`columns ${yCol}..${yCol + yCols} exceed the y row stride ${ldy}`);
  if (M > 0 && (M - 1) * ldy + yCol + yCols > y.numel) {
    fail(`y "${y.label}" [${y.shape}] has ${y.numel} elements, needs ${(M - 1) * ldy + yCol + yCols}`);
  }
  if (bias && bias.numel < N) fail(`bias "${bias.label}" has ${bias.numel} elements, N = ${N}`);
  if (y.buffer === x.buffer || (bias && y.buffer === bias.buffer)) fail(`y "${y.label}" shares a buffer with an input`);
  if (M === 0 || N === 0) return;

  const v: Int8Variant = { ...chooseInt8Variant(gpu, M), ...o.variant };
  if (o.variant?.k8 === undefined && v.mode !== 'w8') v.k8 = false; // k8 is weight-only
  if (v.dot4 && !gpu.caps.packedDot4) fail('dot4 needs the WGSL language feature packed_4x8_integer_dot_product');
  if (!Number.isInteger(v.rows) || v.rows < 1 || v.rows > 16) fail(`rows per workgroup ${v.rows} is not in 1..16`);
  const k8 = !!v.k8;
  if (k8 && v.mode !== 'w8') fail('the k8 kernel is weight-only (mode w8)');
  const int4 = w instanceof Int4Matrix;
  if (int4 && v.mode !== 'w8') fail('4-bit weights have weight-only kernels only (mode w8)');
  const { WG, subgroups } = columnLaneConfig(gpu);
  const groups = w.groups;
  const yb = bindOutputs(rec, y, ep);
  const bb = bias ? bindSpan(rec, bias, 0, bias.numel) : undefined;
  const glu = ep.gluRows !== undefined;

  let xBinding;
  let xOff: number;
  let ldx: number;
  let xsOff = 0;
  let xvec = false;
  let scratch: Tensor | undefined;
  if (v.mode === 'w8a8') {
    scratch = gpu.tensor(`${label}.xq`, [quantizedActivationWords(M, K, G)], 'u32');
    const qa = quantizeActivations(rec, x, scratch, { M, K, groupSize: G, dot4: v.dot4, label: `${label}.quantize` });
    const s = bindSpan(rec, scratch, 0, scratch.numel);
    xBinding = s.binding;
    xOff = s.base;
    ldx = qa.ldq;
    xsOff = s.base + qa.sOff;
  } else {
    const s = bindSpan(rec, x, 0, x.numel);
    xBinding = s.binding;
    xOff = s.base;
    ldx = K;
    xvec = !k8 && K % G === 0 && xOff % 4 === 0;
  }
  const kernel: KernelSpec = {
    shader: 'matmul-int8.wgsl',
    defines: {
      A8: v.mode === 'w8a8', DOT4: v.dot4, XVEC: xvec, STEP8: k8, XFULL: k8 && K % G === 0, SUBGROUPS: subgroups,
      SG4: WG === 4, GLU: glu, INT4: int4,
    },
    constants: { WG, TM: v.rows, G },
  };
  const tag = `${int4 ? 'w4' : v.mode}${k8 ? '-k8' : ''}${v.dot4 ? '-dot4' : ''} tm${v.rows}`;
  // u32 words per W element of the kernel (vec4<u32>; k8: vec2<u32>, 4-bit u32)
  const wUnit = k8 ? (int4 ? 1 : 2) : 4;
  for (const blk of w.qblocks) {
    const ws = bindSpan(rec, blk.q, 0, blk.q.numel);
    const ss = bindSpan(rec, blk.s, 0, blk.s.numel);
    if (ws.base % wUnit !== 0) fail(`weight block "${blk.q.label}" is not ${wUnit * 4}-byte aligned in its binding`);
    if (int4 && ss.base % 4 !== 0) fail(`scale block "${blk.s.label}" is not 16-byte aligned in its binding`);
    const params = [
      M, blk.rows, K, groups,
      ldx, xOff, ldy, yb.yBase + yCol + blk.row0,
      ws.base / wUnit, w.rowBytes / (wUnit * 4), int4 ? ss.base * 2 : ss.base, (bb?.base ?? 0) + blk.row0,
      bb ? 1 : 0, xsOff, G, int4 ? w.sLd : 0,
      ...yb.params(blk.row0),
    ];
    const blabel = w.qblocks.length > 1 ? `${label}[${blk.row0}:${blk.row0 + blk.rows}]` : label;
    rec.dispatch(kernel, `${blabel} [${tag}]`,
      [xBinding, ws.binding, ss.binding, yb.binding, bb?.binding ?? ss.binding], [...params],
      [glu ? Math.ceil(ep.gluRows! / WG) : Math.ceil(blk.rows / (2 * WG)), Math.ceil(M / v.rows), 1]);
  }
  if (scratch) gpu.release(scratch);
}

// ------------------------------------------------------------------------------------------------------------
// Embedding
// ------------------------------------------------------------------------------------------------------------

const EWG = 256;
const EPER = 4; // must match matmul-int8-embed.wgsl

export interface EmbedInt8Options {
  /** First destination row; default 0. */
  dstRow0?: number;
  /** Number of ids to gather (default ids.numel). */
  count?: number;
  label?: string;
  maxBindingBytes?: number;
}

/** out[dstRow0 + j] = dequant(table[ids[j]]) for j < count (ids ≥ vocab give zero rows); INT8 or 4-bit tables. */
export function embedInt8(rec: Recorder, table: QuantMatrix, ids: Tensor, out: Tensor, o: EmbedInt8Options = {}): void {
  const label = o.label ?? 'embed_int8';
  const d = table.cols;
  if (ids.dtype !== 'u32') throw new TypeError(`${label}: ids "${ids.label}" is ${ids.dtype}, expected u32`);
  if (out.dtype !== 'f32') throw new TypeError(`${label}: output "${out.label}" is ${out.dtype}, expected f32`);
  const n = o.count ?? ids.numel;
  if (n > ids.numel) throw new RangeError(`${label}: ${n} ids requested, "${ids.label}" has ${ids.numel}`);
  if (out.numel % d) {
    throw new RangeError(`${label}: output "${out.label}" (${out.numel} elements) is not rows of d=${d}`);
  }
  const outRows = out.numel / d;
  const dstRow0 = o.dstRow0 ?? 0;
  if (dstRow0 + n > outRows) {
    throw new RangeError(`${label}: rows [${dstRow0}, ${dstRow0 + n}) exceed output "${out.label}" (${outRows} rows)`);
  }
  if (n === 0) return;
  const maxBytes = maxBinding(rec, o.maxBindingBytes);
  const si = bindSpan(rec, ids, 0, n, 4, maxBytes);
  const so = bindSpan(rec, out, 0, out.numel, 4, maxBytes);
  const groups = grid(Math.ceil((n * d) / (EWG * EPER)), rec.gpu.caps.maxWorkgroupsPerDimension);
  const int4 = table instanceof Int4Matrix;
  table.qblocks.forEach((b, bi) => {
    const st = bindSpan(rec, b.q, 0, b.q.numel, 4, maxBytes);
    const ss = bindSpan(rec, b.s, 0, b.s.numel, 4, maxBytes);
    // 4-bit scales are f16 pairs: offset and row stride in halves
    const sBase = int4 ? ss.base * 2 : ss.base;
    const sLd = table instanceof Int4Matrix ? table.sLd : table.groups;
    rec.dispatch({ shader: 'matmul-int8-embed.wgsl', defines: { INT4: int4 }, constants: { WG: EWG } }, label,
      [st.binding, ss.binding, si.binding, so.binding],
      [n, d, b.row0, b.rows, table.rows, bi === 0 ? 1 : 0, st.base, sBase, si.base, so.base, dstRow0, outRows,
        table.rowBytes / 4, sLd, table.groupSize],
      groups);
  });
}
