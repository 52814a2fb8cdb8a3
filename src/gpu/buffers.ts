/**
 * Tensors and the buffer pool. Every GPU buffer carries a label that says what it holds
 * (`enc.l3.attn.q`), so validation errors and GPU captures are readable. Buffers are recycled through the
 * pool by usage and size class, so a steady-state loop (decode steps) allocates nothing.
 */

export type DType = 'f32' | 'f16' | 'u32' | 'i32';
export const DTYPE_BYTES: Readonly<Record<DType, number>> = { f32: 4, f16: 2, u32: 4, i32: 4 };
export type TypedData = Float32Array | Uint16Array | Uint32Array | Int32Array | Uint8Array | Int8Array;

/** A typed view of (part of) a GPU buffer: shape, element type and a byte offset. */
export class Tensor {
  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly byteOffset = 0,
  ) {
    if (byteOffset % 4 !== 0) throw new RangeError(`tensor "${buffer.label}": byte offset ` +
      `${byteOffset} is not 4-aligned`);
    if (byteOffset + this.byteLength > buffer.size) {
      throw new RangeError(`tensor "${buffer.label}" [${shape}] ${dtype} at +${byteOffset} exceeds its buffer ` +
        `(${buffer.size} bytes)`);
    }
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get byteLength(): number {
    return this.numel * DTYPE_BYTES[this.dtype];
  }
  get label(): string {
    return this.buffer.label;
  }
  /** The same bytes seen with another shape (same element count). */
  view(shape: readonly number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== this.numel) throw new RangeError(`view of "${this.label}": [${shape}] has ${n} elements, ` +
      `tensor has ${this.numel}`);
    return new Tensor(this.buffer, shape, this.dtype, this.byteOffset);
  }
  /** Rows [row0, row0+rows) of a tensor whose first axis is rows; must start on a 4-byte boundary. */
  rows(row0: number, rows: number): Tensor {
    const rowElems = this.numel / this.shape[0];
    return new Tensor(this.buffer, [rows, ...this.shape.slice(1)], this.dtype,
      this.byteOffset + row0 * rowElems * DTYPE_BYTES[this.dtype]);
  }
}

/**
 * A [rows, cols] matrix stored as consecutive row blocks, each in its own buffer, so that no single binding
 * exceeds the adapter's maxStorageBufferBindingSize (128 MiB on lavapipe; the 59264×2048 f32 embedding is 486 MB).
 */
export class RowBlockedMatrix {
  constructor(
    readonly blocks: readonly { tensor: Tensor; row0: number; rows: number }[],
    readonly rows: number,
    readonly cols: number,
    readonly dtype: DType,
  ) {}

  /** Rows per block so that one block fits `maxBindingBytes` (at least one row). */
  static rowsPerBlock(cols: number, dtype: DType, maxBindingBytes: number): number {
    return Math.max(1, Math.floor(maxBindingBytes / (cols * DTYPE_BYTES[dtype])));
  }
}

const MiB = 1 << 20;

/** Size classes: powers of two up to 1 MiB, then steps of 1/8 of the power of two, so waste stays ≤ 12.5 %. */
function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 16) * 16);
  if (b <= MiB) return 2 ** Math.ceil(Math.log2(b));
  const step = 2 ** (Math.floor(Math.log2(b)) - 3);
  return Math.ceil(b / step) * step;
}

export interface PoolStats {
  /** Bytes of all buffers the pool has created and not destroyed. */
  liveBytes: number;
  peakBytes: number;
  buffersCreated: number;
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  readonly stats: PoolStats = { liveBytes: 0, peakBytes: 0, buffersCreated: 0 };
  private readonly all = new Set<GPUBuffer>();

  constructor(private readonly device: GPUDevice) {}

  /** A buffer of exactly `bytes` (rounded up to 16) that is never recycled: weights, KV caches. */
  create(label: string, bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    return this.allocate(label, Math.max(16, Math.ceil(bytes / 16) * 16), usage);
  }

  /** A buffer of at least `bytes` from the free list of its size class, or a new one. */
  acquire(label: string, bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(`${usage}:${size}`);
    const buf = list?.pop();
    if (buf) {
      buf.label = label;
      return buf;
    }
    return this.allocate(label, size, usage);
  }

  /** Returns a buffer for reuse. Safe right after submit: later uses are ordered after earlier GPU work. */
  release(buf: GPUBuffer): void {
    const key = `${buf.usage}:${buf.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    if (!list.includes(buf)) list.push(buf);
  }

  destroy(buf: GPUBuffer): void {
    if (!this.all.delete(buf)) return;
    this.stats.liveBytes -= buf.size;
    const list = this.free.get(`${buf.usage}:${buf.size}`);
    if (list) this.free.set(`${buf.usage}:${buf.size}`, list.filter((b) => b !== buf));
    buf.destroy();
  }

  destroyAll(): void {
    for (const b of this.all) b.destroy();
    this.all.clear();
    this.free.clear();
    this.stats.liveBytes = 0;
  }

  private allocate(label: string, size: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const buf = this.device.createBuffer({ label, size, usage });
    this.all.add(buf);
    this.stats.buffersCreated++;
    this.stats.liveBytes += size;
    this.stats.peakBytes = Math.max(this.stats.peakBytes, this.stats.liveBytes);
    return buf;
  }
}
