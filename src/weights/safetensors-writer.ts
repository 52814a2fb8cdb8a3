/**
 * safetensors writers: an in-memory one (`writeSafetensors`) and a streaming one
 * (`SafetensorsStreamWriter`) that writes the header first and then accepts each tensor's bytes,
 * in header order, in any number of pieces, to a `ByteSink` (a Node file via `NodeFileSink`, a
 * browser `FileSystemWritableFileStream` wrapper, ...). Browser-safe module.
 *
 * Tensors are laid out in the order given (no reordering), contiguously from data offset 0, so
 * the result has no holes. The JSON header is padded with spaces so the data section starts at a
 * multiple of 8 bytes, as the reference writer does. `__metadata__` comes first in the header.
 */
import { DTYPE_SIZE, isSafetensorsDtype, type SafetensorsDtype } from './dtype';
import { SafetensorsError } from './safetensors';

export interface TensorSpec {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
}

export interface TensorToWrite extends TensorSpec {
  data: Uint8Array;
}

/** Where the streaming writer puts bytes. */
export interface ByteSink {
  readonly name?: string;
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
  /** Optional: discard what was written (e.g. delete a partial file). */
  abort?(): Promise<void>;
}

export interface HeaderLayout {
  /** 8-byte length prefix + padded JSON header. */
  header: Uint8Array<ArrayBuffer>;
  /** Data offsets [begin, end) per tensor, in the given order. */
  offsets: Array<{ name: string; begin: number; end: number }>;
  /** Total data-section bytes. */
  dataSize: number;
}

function byteLengthOf(file: string, t: TensorSpec): number {
  if (!isSafetensorsDtype(t.dtype)) {
    throw new SafetensorsError(file, `unknown dtype ${JSON.stringify(t.dtype)}`, { tensor: t.name });
  }
  let n = DTYPE_SIZE[t.dtype];
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new SafetensorsError(file, `shape ${JSON.stringify(t.shape)} has an invalid dimension ` +
        `${d}`, { tensor: t.name });
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new SafetensorsError(file,
    `shape ${JSON.stringify(t.shape)} is too large`, { tensor: t.name });
  return n;
}

/** Build the header bytes (length prefix + JSON + space padding) for `tensors` in the given order. */
export function buildSafetensorsHeader(
  tensors: readonly TensorSpec[],
  metadata?: Record<string, string> | null,
  file = 'safetensors writer',
): HeaderLayout {
  const json: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(file,
        `metadata value for ${JSON.stringify(k)} is not a string`);
    }
    json.__metadata__ = { ...metadata };
  }
  const offsets: HeaderLayout['offsets'] = [];
  const seen = new Set<string>();
  let cursor = 0;
  for (const t of tensors) {
    if (typeof t.name !== 'string' || t.name === '') throw new SafetensorsError(file,
      'tensor name must be a non-empty string');
    if (t.name === '__metadata__') throw new SafetensorsError(file,
      'tensor name "__metadata__" is reserved', { tensor: t.name });
    if (seen.has(t.name)) throw new SafetensorsError(file, 'duplicate tensor name', { tensor: t.name });
    seen.add(t.name);
    const len = byteLengthOf(file, t);
    json[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [cursor, cursor + len] };
    offsets.push({ name: t.name, begin: cursor, end: cursor + len });
    cursor += len;
  }
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(text.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(text, 8);
  header.fill(0x20, 8 + text.byteLength);
  return { header, offsets, dataSize: cursor };
}

/** Serialize tensors (in the given order) to one safetensors byte array. */
export function writeSafetensors(tensors: readonly TensorToWrite[],
  metadata?: Record<string, string> | null): Uint8Array<ArrayBuffer> {
  const file = 'safetensors writer';
  const { header, offsets, dataSize } = buildSafetensorsHeader(tensors, metadata, file);
  const out = new Uint8Array(header.byteLength + dataSize);
  out.set(header, 0);
  tensors.forEach((t, i) => {
    const { begin, end } = offsets[i];
    if (t.data.byteLength !== end - begin) {
      throw new SafetensorsError(file, `data is ${t.data.byteLength} bytes but shape ${JSON.stringify(t.shape)} × ` +
        `${t.dtype} needs ${end - begin}`, {
        tensor: t.name,
      });
    }
    out.set(t.data, header.byteLength + begin);
  });
  return out;
}

/**
 * Streaming writer: give every tensor's (name, dtype, shape) up front; `create` writes the header;
 * then call `write(name, bytes)` for the tensors in that order, each in one or more pieces (a
 * piece never spans two tensors); `finish()` checks every byte arrived and closes the sink.
 * Zero-byte tensors need no `write` call.
 */
export class SafetensorsStreamWriter {
  readonly sink: ByteSink;
  readonly layout: HeaderLayout;
  private readonly file: string;
  private index = 0;
  private written = 0; // bytes of the current tensor written so far
  private state: 'open' | 'finished' | 'failed' = 'open';

  private constructor(sink: ByteSink, layout: HeaderLayout) {
    this.sink = sink;
    this.layout = layout;
    this.file = sink.name ?? 'safetensors stream';
  }

  static async create(sink: ByteSink, tensors: readonly TensorSpec[],
    metadata?: Record<string, string> | null): Promise<SafetensorsStreamWriter> {
    const layout = buildSafetensorsHeader(tensors, metadata, sink.name ?? 'safetensors stream');
    const w = new SafetensorsStreamWriter(sink, layout);
    await sink.write(layout.header);
    w.skipEmpty();
    return w;
  }

  /** Total file size once finished. */
  get totalBytes(): number {
    return this.layout.header.byteLength + this.layout.dataSize;
  }

  /** Name of the tensor whose bytes are expected next, or null when all are written. */
  get current(): string | null {
    return this.index < this.layout.offsets.length ? this.layout.offsets[this.index].name : null;
  }

  private skipEmpty(): void {
    const o = this.layout.offsets;
    while (this.index < o.length && this.written === o[this.index].end - o[this.index].begin) {
      this.index++;
      this.written = 0;
    }
  }

  private fail(message: string, tensor?: string): never {
    this.state = 'failed';
    throw new SafetensorsError(this.file, message, { tensor });
  }

  /** Append bytes of tensor `name` (must be the current tensor; must not exceed its remaining bytes). */
  async write(name: string, bytes: Uint8Array): Promise<void> {
    if (this.state !== 'open') this.fail(`write after ${this.state === 'finished' ? 'finish' : 'an earlier error'}`,
      name);
    const cur = this.current;
    if (cur === null) this.fail('all tensors are already complete', name);
    if (cur !== name) {
      const known = this.layout.offsets.some((o) => o.name === name);
      this.fail(known ? `out of order: expected bytes of ${JSON.stringify(cur)} next` :
        'not in the header given to create()', name);
    }
    const o = this.layout.offsets[this.index];
    const remaining = o.end - o.begin - this.written;
    if (bytes.byteLength > remaining) {
      this.fail(`piece of ${bytes.byteLength} bytes exceeds the ${remaining} bytes remaining (tensor is ` +
        `${o.end - o.begin} bytes)`, name);
    }
    try {
      await this.sink.write(bytes);
    } catch (e) {
      this.state = 'failed';
      throw e;
    }
    this.written += bytes.byteLength;
    this.skipEmpty();
  }

  /** Write a whole tensor at once (same checks as `write`, plus the byte count must be complete). */
  async writeTensor(name: string, bytes: Uint8Array): Promise<void> {
    const o = this.layout.offsets[this.index];
    if (o && o.name === name) {
      if (this.written !== 0) this.fail(`writeTensor after ${this.written} bytes were already ` +
        `written with write()`, name);
      if (bytes.byteLength !== o.end - o.begin) this.fail(`data is ${bytes.byteLength} bytes but the tensor needs ` +
        `${o.end - o.begin}`, name);
    }
    await this.write(name, bytes);
  }

  /** Verify completeness and close the sink. */
  async finish(): Promise<void> {
    if (this.state !== 'open') this.fail(`finish after ${this.state === 'finished' ? 'finish' : 'an earlier error'}`);
    const cur = this.current;
    if (cur !== null) {
      const o = this.layout.offsets[this.index];
      this.fail(`incomplete: ${this.written} of ${o.end - o.begin} bytes written when finish() was called`, cur);
    }
    this.state = 'finished';
    await this.sink.close();
  }

  /** Give up: abort (or close) the sink. */
  async abort(): Promise<void> {
    this.state = 'failed';
    if (this.sink.abort) await this.sink.abort();
    else await this.sink.close();
  }
}
