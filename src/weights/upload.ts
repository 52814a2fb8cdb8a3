/**
 * Checkpoint tensors → GPU weights, for any model: tensors are streamed in bounded chunks (ranged reads), each
 * chunk uploaded as raw bytes into a pooled staging buffer and converted on the GPU (bf16/f16/f32 → the storage
 * type); host memory stays at about one chunk. INT8 matrices (weights/quant.ts: I8 rows + F16 scales) go into an
 * `Int8Matrix` as stored, 4-bit ones (packed U8 rows + F16 scales) into an `Int4Matrix`; a float matrix asked for
 * as 4-bit is quantised on the host chunk by chunk (`quantizeRows4`, the quantize tool's rounding). Every buffer
 * the uploader creates is permanent and recorded, so `destroy` frees all of them when a load fails half-way.
 *
 * Unlike the rest of src/weights, this module sits above the GPU layers (it records conversion kernels).
 *
 * @example
 * const up = new CheckpointUploader(gpu, ckpt, { names: [...ckpt.tensors.keys()] });
 * const qkv = await up.matrix(['q.weight', 'k.weight', 'v.weight'], 'f16'); // stacked by rows
 * const bias = await up.tensor('q.bias');                                    // f32
 */
import { Recorder, type DType, type Gpu, type RowBlockedMatrix, type Tensor } from '../gpu';
import { convert, convertToMatrix, type SourceFormat } from '../ops/convert';
import { Int4Matrix } from '../ops/matmul-int4';
import { Int8Matrix } from '../ops/matmul-int8';
import type { Checkpoint, CheckpointTensorInfo } from './checkpoint';
import { asU16, toFloat32 } from './dtype';
import { groupsOf, packedRowBytes4, quantizeRows4, SCALE_SUFFIX, type QuantScheme } from './quant';

export interface UploadProgress {
  tensor: string;
  tensorsDone: number;
  tensorsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface CheckpointUploaderOptions {
  /** Every tensor the caller will upload (stored scales included): the progress totals. */
  names: readonly string[];
  /** Host bytes per read (default 32 MiB); peak host memory is about this plus one row. */
  chunkBytes?: number;
  onProgress?: (p: UploadProgress) => void;
}

/**
 * Storage of a matrix: a float dtype, or a quantization scheme (the checkpoint's, or int4 for float matrices
 * quantised at load).
 */
export type MatrixStorage = 'f32' | 'f16' | QuantScheme;

const SOURCE: Readonly<Record<string, SourceFormat>> = { BF16: 'bf16', F16: 'f16', F32: 'f32' };
/** Uploaded bytes after which the uploader waits for the queue (bounds its copies of the uploaded chunks). */
const SYNC_BYTES = 256 << 20;

export class CheckpointUploader {
  /** Bytes of all weight buffers created so far. */
  bytes = 0;
  private readonly buffers: GPUBuffer[] = [];
  private readonly chunkBytes: number;
  private readonly bytesTotal: number;
  private bytesDone = 0;
  private tensorsDone = 0;
  private sinceSync = 0;

  constructor(readonly gpu: Gpu, readonly ckpt: Checkpoint, private readonly opts: CheckpointUploaderOptions) {
    this.chunkBytes = opts.chunkBytes ?? 32 << 20;
    this.bytesTotal = opts.names.reduce((s, n) => s + ckpt.get(n).byteLength, 0);
  }

  /**
   * `parts` (matrices of `cols` columns) stacked by rows in the order given, as one matrix. `cols` defaults to the
   * stored width; a packed 4-bit tensor stores ceil(cols / 2) bytes per row, so its caller passes the real width.
   */
  async matrix(parts: readonly string[], storage: MatrixStorage,
    cols = this.ckpt.get(parts[0]).shape[1]): Promise<RowBlockedMatrix> {
    const shapes = parts.map((n) => this.ckpt.get(n).shape);
    const rows = shapes.reduce((a, sh) => a + sh[0], 0);
    for (const [i, name] of parts.entries()) {
      const width = this.ckpt.get(name).dtype === 'U8' ? packedRowBytes4(cols) : cols;
      if (shapes[i].length !== 2 || shapes[i][1] !== width) {
        throw new Error(`"${name}" [${shapes[i]}] cannot be stacked under "${parts[0]}" [${shapes[0]}]`);
      }
    }
    const label = parts.length === 1 ? parts[0] : `${parts[0]}+${parts.length - 1}`;
    const m = typeof storage === 'string'
      ? this.gpu.matrix(label, rows, cols, storage)
      : storage.bits === 8
        ? Int8Matrix.create(this.gpu, label, rows, cols, storage.groupSize)
        : Int4Matrix.create(this.gpu, label, rows, cols, storage.groupSize);
    const tensors = m instanceof Int8Matrix || m instanceof Int4Matrix
      ? m.qblocks.flatMap((b) => [b.q, b.s]) : m.blocks.map((b) => b.tensor);
    for (const t of tensors) this.own(t.buffer);
    let at = 0;
    for (const [i, name] of parts.entries()) {
      const base = at;
      if (m instanceof Int8Matrix) await this.quantInto(m, name, base);
      else if (m instanceof Int4Matrix) {
        if (this.ckpt.get(name).dtype === 'U8') await this.quantInto(m, name, base);
        else await this.int4FromFloat(m, name, base);
      } else {
        await this.stream(name, cols, (rec, staging, row0, n, from) =>
          convertToMatrix(rec, staging, m, { row0: base + row0, rows: n, from }));
      }
      at += shapes[i][0];
    }
    return m;
  }

  /** A tensor of any shape in `dtype` (norms and biases: f32). */
  async tensor(name: string, dtype: DType = 'f32'): Promise<Tensor> {
    const t = this.create(name, this.ckpt.get(name).shape, dtype);
    await this.into(t, name, 0);
    return t;
  }

  /** An f32 vector of `length` zeros with each part's tensor written from its element offset `at` (stacked biases). */
  async vector(label: string, length: number, parts: readonly { name: string; at: number }[]): Promise<Tensor> {
    const t = this.create(label, [length], 'f32');
    this.gpu.write(t, new Float32Array(length));
    for (const p of parts) await this.into(t, p.name, p.at);
    return t;
  }

  /** Destroys every buffer created so far (a load that failed; or the weights of a disposed model). */
  destroy(): void {
    for (const b of this.buffers.splice(0)) this.gpu.pool.destroy(b);
    this.bytes = 0;
  }

  private own(buf: GPUBuffer): void {
    this.buffers.push(buf);
    this.bytes += buf.size;
  }

  private create(label: string, shape: readonly number[], dtype: DType): Tensor {
    const t = this.gpu.permanentTensor(label, shape, dtype);
    this.own(t.buffer);
    return t;
  }

  private info(name: string): CheckpointTensorInfo {
    const t = this.ckpt.get(name);
    if (!(t.dtype in SOURCE)) {
      throw new Error(`${t.file}: tensor "${name}" has dtype ${t.dtype}; only BF16, F16 and F32 weights are supported`);
    }
    return t;
  }

  /** Streams tensor `name` into `t` from element `at` on. */
  private async into(t: Tensor, name: string, at: number): Promise<void> {
    const rowElems = this.info(name).shape.slice(1).reduce((a, b) => a * b, 1);
    await this.stream(name, rowElems, (rec, staging, row0, n, from) =>
      convert(rec, staging, t, { from, dstOffset: at + row0 * rowElems, count: n * rowElems }));
  }

  /** Streams `name` into a destination via `sink(rec, staging, rowStart, rows, from)`, chunk by chunk. */
  private async stream(name: string, rowElems: number,
    sink: (rec: Recorder, staging: Tensor, row0: number, rows: number, from: SourceFormat) => void): Promise<void> {
    const from = SOURCE[this.info(name).dtype];
    const elemBytes = from === 'f32' ? 4 : 2;
    // Even row counts keep every chunk a whole number of 4-byte words for 2-byte sources.
    const rowMultiple = elemBytes === 2 && rowElems % 2 ? 2 : 1;
    const maxBytes = Math.max(this.chunkBytes, rowElems * elemBytes * 2);
    for await (const chunk of this.ckpt.readChunks(name, maxBytes, { rowMultiple })) {
      const staging = this.gpu.tensor(`staging:${name}`, [Math.ceil(chunk.data.byteLength / 4)], 'u32');
      this.gpu.write(staging, chunk.data);
      const rec = new Recorder(this.gpu, `load ${name}`);
      sink(rec, staging, chunk.rowStart, chunk.rowEnd - chunk.rowStart, from);
      rec.submit();
      this.gpu.release(staging);
      await this.uploaded(chunk.data.byteLength);
    }
    this.done(name, 1);
  }

  /** Rows [row0, row0 + rows of `name`) of a quantised matrix: its I8 (packed U8) rows and F16 scales, as stored. */
  private async quantInto(m: Int8Matrix | Int4Matrix, name: string, row0: number): Promise<void> {
    const rowBytes = this.ckpt.get(name).shape[1];
    const scales = name + SCALE_SUFFIX;
    const groups = groupsOf(m.cols, m.groupSize);
    for await (const c of this.ckpt.readChunks(name, Math.max(this.chunkBytes, rowBytes))) {
      m.writeQ(this.gpu, row0 + c.rowStart, c.data);
      await this.uploaded(c.data.byteLength);
    }
    const rowMultiple = groups % 2 ? 2 : 1; // whole 4-byte words of f16 scales
    for await (const c of this.ckpt.readChunks(scales, Math.max(this.chunkBytes, groups * 4), { rowMultiple })) {
      m.writeScales(this.gpu, row0 + c.rowStart, asU16(c.data));
      await this.uploaded(c.data.byteLength);
    }
    this.done(name, 2);
  }

  /** Rows [row0, row0 + rows of `name`) of a 4-bit matrix from a float tensor, quantised on the host. */
  private async int4FromFloat(m: Int4Matrix, name: string, row0: number): Promise<void> {
    const t = this.info(name);
    const K = t.shape[1];
    for await (const c of this.ckpt.readChunks(name, Math.max(this.chunkBytes, K * 4))) {
      const rows = c.rowEnd - c.rowStart;
      const r = quantizeRows4(toFloat32(c.data, t.dtype), rows, K, m.groupSize);
      m.writeQ(this.gpu, row0 + c.rowStart, r.packed);
      m.writeScales(this.gpu, row0 + c.rowStart, r.scales);
      await this.uploaded(c.data.byteLength);
    }
    this.done(name, 1);
  }

  private async uploaded(bytes: number): Promise<void> {
    this.bytesDone += bytes;
    this.sinceSync += bytes;
    if (this.sinceSync > SYNC_BYTES) {
      await this.gpu.sync(); // keep the queue's copies of uploaded chunks bounded
      this.sinceSync = 0;
    }
  }

  private done(name: string, tensors: number): void {
    this.tensorsDone += tensors;
    this.opts.onProgress?.({
      tensor: name, tensorsDone: this.tensorsDone, tensorsTotal: this.opts.names.length,
      bytesDone: this.bytesDone, bytesTotal: this.bytesTotal,
    });
  }
}
