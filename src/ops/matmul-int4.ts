/**
 * 4-bit weights (docs/quantization.md): the GPU form of an "int4-sym-g{G}" matrix. The products and the gather
 * are the INT8 kernels compiled with INT4 (shaders/matmul-int8.wgsl, matmul-int8-embed.wgsl; `matmulInt8` and
 * `embedInt8` take either matrix), so the kernel choice (`chooseInt8Variant`) and every check live in one place.
 *
 * GPU layout of an `Int4Matrix`: row blocks (each ≤ one storage binding), each a u32 tensor [rows, Kp/8] of 4-bit
 * codes (8 per word, nibble 0 = lowest k, code = q + 8; rows padded to Kp = groups·G codes with code 8, i.e. q = 0,
 * by weights/quant `padRows4`, so every group is whole and rows are 16-byte aligned) plus the f16 scales as stored,
 * two per u32 ([rows, sLd/2], sLd = groups rounded up to a multiple of 8, so a row of scales starts on 16 bytes and
 * the decode kernel reads 8 scales per load). The f16 scales are read with unpack2x16float (no shader-f16 needed)
 * and keep the GPU bytes at 0.5625 per weight at G = 32 (the model's K are multiples of 256: no padding).
 *
 * @example
 * const w = uploadInt4Matrix(gpu, 'fc1', packed, scales, N, K, 32); // packed: U8 [N, ceil(K/2)], scales f16 bits
 * linear(rec, x, w, bias, y, { label: 'enc.l0.fc1' });
 */
import { RowBlockedMatrix, Tensor, type Gpu } from '../gpu';
import { GROUP_SIZES, groupsOf, packedRowBytes4, padRows4 } from '../weights/quant';

/** One row block of a quantised matrix (Int8Matrix, Int4Matrix): its codes as u32 words and its scales. */
export interface QuantBlock {
  q: Tensor;
  s: Tensor;
  row0: number;
  rows: number;
}

/**
 * The permanent buffers of a quantised [rows, ·] matrix with `rowBytes` of codes and `scaleWords` scale words per
 * row, split into row blocks that each fit `maxBlockBytes`; `kind` (the class) names it in the group-size error.
 */
export function createQuantBlocks(gpu: Gpu, kind: string, label: string, rows: number, groupSize: number,
  rowBytes: number, scaleWords: number, scaleDtype: 'u32' | 'f32', maxBlockBytes: number): QuantBlock[] {
  if (!(GROUP_SIZES as readonly number[]).includes(groupSize)) {
    throw new RangeError(`${kind} "${label}": group size ${groupSize} is not one of ${GROUP_SIZES.join(', ')}`);
  }
  const perBlock = Math.max(1, Math.floor(maxBlockBytes / rowBytes));
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const blocks: QuantBlock[] = [];
  for (let row0 = 0; row0 < rows; row0 += perBlock) {
    const n = Math.min(perBlock, rows - row0);
    const name = rows > perBlock ? `${label}[${row0}:${row0 + n}]` : label;
    const q = new Tensor(gpu.pool.create(name, n * rowBytes, usage), [n, rowBytes / 4], 'u32');
    const sBuf = gpu.pool.create(`${name}.scale`, n * scaleWords * 4, usage);
    const s = new Tensor(sBuf, [n, scaleWords], scaleDtype);
    blocks.push({ q, s, row0, rows: n });
  }
  return blocks;
}

/**
 * What Int8Matrix and Int4Matrix share: a RowBlockedMatrix whose blocks are the code words (dtype 'u32'), with
 * each block's scales beside them (the per-block layouts are in each class's comment).
 */
export abstract class QuantBlockedMatrix extends RowBlockedMatrix {
  constructor(readonly qblocks: readonly QuantBlock[], rows: number, cols: number, readonly groupSize: number) {
    super(qblocks.map((b) => ({ tensor: b.q, row0: b.row0, rows: b.rows })), rows, cols, 'u32');
  }

  get groups(): number {
    return groupsOf(this.cols, this.groupSize);
  }

  /** GPU bytes of codes and scales. */
  get bytes(): number {
    return this.qblocks.reduce((s, b) => s + b.q.buffer.size + b.s.buffer.size, 0);
  }
}

/** Halves between 4-bit scale rows: `groups` rounded up to a multiple of 8 (one vec4<u32>). */
function scaleLd4(groups: number): number {
  return Math.ceil(groups / 8) * 8;
}

/**
 * A [rows, cols] 4-bit matrix in row blocks with per-row, per-group f16 scales (see the module comment). Per block:
 * codes as u32 [rows, rowBytes/4] and f16 scale pairs as u32 [rows, sLd/2].
 */
export class Int4Matrix extends QuantBlockedMatrix {
  /** Scales (halves) between scale rows: groups rounded up to a multiple of 8. */
  get sLd(): number {
    return scaleLd4(this.groups);
  }

  /** Bytes per stored row (cols padded to whole groups, two codes per byte). */
  get rowBytes(): number {
    return (this.groups * this.groupSize) / 2;
  }

  /** Permanent (non-pooled) buffers, split into row blocks that each fit `maxBlockBytes`. */
  static create(gpu: Gpu, label: string, rows: number, cols: number, groupSize: number,
    maxBlockBytes = gpu.caps.maxStorageBindingBytes): Int4Matrix {
    const groups = groupsOf(cols, groupSize);
    const blocks = createQuantBlocks(gpu, 'Int4Matrix', label, rows, groupSize,
      (groups * groupSize) / 2, scaleLd4(groups) / 2, 'u32', maxBlockBytes);
    return new Int4Matrix(blocks, rows, cols, groupSize);
  }

  /** Writes whole packed rows as the checkpoint stores them (ceil(cols/2) bytes each) starting at row0. */
  writeQ(gpu: Gpu, row0: number, packed: Uint8Array): void {
    const stored = packedRowBytes4(this.cols);
    const n = packed.byteLength / stored;
    if (!Number.isInteger(n)) {
      throw new RangeError(`Int4Matrix.writeQ: ${packed.byteLength} bytes are not whole rows of ${stored} bytes`);
    }
    this.writeRows(gpu, row0, n, 'writeQ', (b) => b.q, this.rowBytes, padRows4(packed, n, this.cols, this.groupSize));
  }

  /** Writes whole rows of f16 scale bits (groups each, as the checkpoint stores them) starting at row0. */
  writeScales(gpu: Gpu, row0: number, bits: Uint16Array): void {
    const g = this.groups;
    const n = bits.length / g;
    if (!Number.isInteger(n)) {
      throw new RangeError(`Int4Matrix.writeScales: ${bits.length} scales are not whole rows of ${g}`);
    }
    const ld = this.sLd;
    let rowsOut = bits;
    if (ld !== g) {
      rowsOut = new Uint16Array(n * ld);
      for (let r = 0; r < n; r++) rowsOut.set(bits.subarray(r * g, (r + 1) * g), r * ld);
    }
    const bytes = new Uint8Array(rowsOut.buffer, rowsOut.byteOffset, rowsOut.byteLength);
    this.writeRows(gpu, row0, n, 'writeScales', (b) => b.s, ld * 2, bytes);
  }

  private writeRows(gpu: Gpu, row0: number, n: number, what: string,
    pick: (b: Int4Matrix['qblocks'][number]) => Tensor, rowBytes: number, bytes: Uint8Array): void {
    if (row0 < 0 || row0 + n > this.rows) {
      throw new RangeError(`Int4Matrix.${what}: rows ${row0}..${row0 + n} exceed ${this.rows}`);
    }
    for (const b of this.qblocks) {
      const lo = Math.max(row0, b.row0);
      const hi = Math.min(row0 + n, b.row0 + b.rows);
      if (lo < hi) {
        gpu.write(pick(b), bytes.subarray((lo - row0) * rowBytes, (hi - row0) * rowBytes),
          ((lo - b.row0) * rowBytes) / 4);
      }
    }
  }
}

/** Uploads a 4-bit matrix from host arrays: packed codes [rows, ceil(cols/2)] and f16 scale bits [rows, groups]. */
export function uploadInt4Matrix(gpu: Gpu, label: string, packed: Uint8Array, scales: Uint16Array, rows: number,
  cols: number, groupSize: number, maxBlockBytes?: number): Int4Matrix {
  const m = Int4Matrix.create(gpu, label, rows, cols, groupSize, maxBlockBytes);
  m.writeQ(gpu, 0, packed.subarray(0, rows * packedRowBytes4(cols)));
  m.writeScales(gpu, 0, scales);
  return m;
}
