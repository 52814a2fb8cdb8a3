/**
 * safetensors reader over a random-access `ByteSource` (ranged reads; never the whole file).
 *
 * Layout: an unsigned little-endian u64 N, then N bytes of UTF-8 JSON (starting with `{`,
 * optionally right-padded with spaces), then the data section. The JSON maps tensor names to
 * `{dtype, shape, data_offsets: [begin, end]}` with offsets relative to the data section, plus an
 * optional `__metadata__` string→string map. The format requires the tensors to cover the data
 * section exactly, without holes or overlaps; this reader enforces that (overridable with
 * `allowGaps` for holes only).
 */
import { DTYPE_SIZE, isSafetensorsDtype, type SafetensorsDtype } from './dtype';
import type { ByteSource } from './sources';
import { preview } from '../preview';

/** Upper bound on the JSON header length (the reference implementation's limit, 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Absolute offset of the first byte in the file. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** One piece of a tensor read by `readChunks`: rows [rowStart, rowEnd) of dimension 0. */
export interface TensorChunk {
  readonly rowStart: number;
  readonly rowEnd: number;
  /** Offset of `data` relative to the tensor's first byte. */
  readonly byteOffset: number;
  readonly data: Uint8Array<ArrayBuffer>;
}

export interface SafetensorsErrorDetails {
  tensor?: string;
  offset?: number;
  limit?: number;
  cause?: unknown;
}

/** Any problem with a safetensors file's structure or with a request against it. */
export class SafetensorsError extends Error {
  readonly file: string;
  readonly tensor: string | undefined;
  readonly offset: number | undefined;
  readonly limit: number | undefined;
  constructor(file: string, message: string, details: SafetensorsErrorDetails = {}) {
    const where = details.tensor !== undefined ? ` tensor ${JSON.stringify(details.tensor)}:` : '';
    super(`${file}:${where} ${message}`, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'SafetensorsError';
    this.file = file;
    this.tensor = details.tensor;
    this.offset = details.offset;
    this.limit = details.limit;
  }
}

export interface SafetensorsOpenOptions {
  /** Accept data sections with bytes not covered by any tensor (the format forbids them). Default false. */
  allowGaps?: boolean;
  /** Header length limit; default `MAX_HEADER_BYTES`. */
  maxHeaderBytes?: number;
}

export interface ParsedHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Readonly<Record<string, string>> | null;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse and validate a header. `headerBytes` is the N-byte JSON region; `fileSize` the size of the
 * whole file (the data section is `fileSize − 8 − N` bytes). Pure function; used by `open`.
 */
export function parseSafetensorsHeader(
  file: string,
  headerBytes: Uint8Array,
  fileSize: number,
  options: SafetensorsOpenOptions = {},
): ParsedHeader {
  const headerLen = headerBytes.byteLength;
  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  if (dataSize < 0) {
    throw new SafetensorsError(file, `header of ${headerLen} bytes does not fit in a ${fileSize}-byte file`,
      { offset: dataStart, limit: fileSize });
  }
  if (headerLen === 0 || headerBytes[0] !== 0x7b /* '{' */) {
    throw new SafetensorsError(
      file,
      `header must start with '{' at offset 8 (found ` +
        `${headerLen === 0 ? 'an empty header' : `byte 0x${headerBytes[0].toString(16).padStart(2, '0')}`})`,
      { offset: 8 },
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (e) {
    throw new SafetensorsError(file, `header (bytes 8..${dataStart}) is not valid UTF-8`,
      { offset: 8, limit: dataStart, cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const nul = text.indexOf('\u0000');
    const hint = nul >= 0 ? ` (contains a NUL byte at header offset ${nul}; padding must be spaces, 0x20)` : '';
    throw new SafetensorsError(file, `header (bytes 8..${dataStart}) is not valid JSON: ` +
      `${(e as Error).message}${hint}`, {
      offset: 8,
      limit: dataStart,
      cause: e,
    });
  }
  if (!isPlainObject(json)) {
    throw new SafetensorsError(file, 'header JSON is not an object', { offset: 8 });
  }

  let metadata: Record<string, string> | null = null;
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) {
        throw new SafetensorsError(file, '__metadata__ must be an object of string values', { offset: 8 });
      }
      metadata = {};
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') {
          throw new SafetensorsError(file, `__metadata__ value for key ${JSON.stringify(k)} is ${preview(v)}, not ` +
            `a string`, { offset: 8 });
        }
        metadata[k] = v;
      }
      Object.freeze(metadata);
      continue;
    }
    tensors.set(name, parseEntry(file, name, entry, dataStart, dataSize));
  }

  checkCoverage(file, tensors, dataStart, dataSize, options.allowGaps ?? false);
  return { tensors, metadata };
}

function parseEntry(file: string, name: string, entry: unknown, dataStart: number, dataSize: number): TensorInfo {
  const err = (msg: string, offset?: number, limit?: number) =>
    new SafetensorsError(file, msg, { tensor: name, offset, limit });
  if (!isPlainObject(entry)) throw err(`entry is ${preview(entry)}, not an object`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isSafetensorsDtype(dtype)) {
    throw err(`unknown dtype ${preview(dtype)} (known: ${Object.keys(DTYPE_SIZE).join(', ')})`);
  }
  if (!Array.isArray(shape)) throw err(`shape ${preview(shape)} is not an array`);
  let numel = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw err(`shape ${preview(shape)}: dimension ${i} (${preview(d)}) is not a non-negative integer`);
    }
    numel *= d;
    if (!Number.isSafeInteger(numel)) throw err(`shape ${preview(shape)} has too many elements`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    throw err(`data_offsets ${preview(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw err(`data_offsets [${begin}, ${end}] end before begin`, dataStart + begin);
  const expected = numel * DTYPE_SIZE[dtype];
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    throw err(
      `shape ${preview(shape)} × ${dtype} (${DTYPE_SIZE[dtype]} B) needs ${expected} bytes but data_offsets ` +
        `[${begin}, ${end}] span ${end - begin}`,
      dataStart + begin,
    );
  }
  if (end > dataSize) {
    throw err(
      `data_offsets [${begin}, ${end}] reach past the data section (${dataSize} bytes, ` +
        `file offset ${dataStart}..${dataStart + dataSize}): tensor would end at file offset ${dataStart + end}; ` +
        `file truncated or header corrupt`,
      dataStart + end,
      dataStart + dataSize,
    );
  }
  return Object.freeze({
    name,
    dtype,
    shape: Object.freeze(shape.slice() as number[]),
    byteOffset: dataStart + begin,
    byteLength: end - begin,
  });
}

function checkCoverage(file: string, tensors: Map<string, TensorInfo>, dataStart: number, dataSize: number,
  allowGaps: boolean): void {
  const sorted = [...tensors.values()].sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  let cursor = dataStart; // first byte not yet covered
  let prev: TensorInfo | null = null;
  for (const t of sorted) {
    if (t.byteOffset < cursor) {
      throw new SafetensorsError(
        file,
        `data overlaps tensor ${JSON.stringify(prev!.name)}: starts at file offset ${t.byteOffset} but ` +
          `${JSON.stringify(prev!.name)} ends at ${cursor}`,
        { tensor: t.name, offset: t.byteOffset, limit: cursor },
      );
    }
    if (t.byteOffset > cursor && !allowGaps) {
      const after = prev ? `after tensor ${JSON.stringify(prev.name)}` : 'at the start of the data section';
      throw new SafetensorsError(
        file,
        `hole in the data section ${after}: file bytes ${cursor}..${t.byteOffset} (${t.byteOffset - cursor} bytes) ` +
          `belong to no tensor (the format forbids holes)`,
        { tensor: t.name, offset: cursor, limit: t.byteOffset },
      );
    }
    cursor = t.byteOffset + t.byteLength;
    prev = t;
  }
  const dataEnd = dataStart + dataSize;
  if (cursor < dataEnd && !allowGaps) {
    const after = prev ? `after the last tensor ${JSON.stringify(prev.name)}` : 'with no tensors in the header';
    throw new SafetensorsError(
      file,
      `${dataEnd - cursor} trailing bytes ${after}: file bytes ${cursor}..${dataEnd} belong to no tensor (the format ` +
        `forbids holes; appended data or a wrong header?)`,
      { tensor: prev?.name, offset: cursor, limit: dataEnd },
    );
  }
}

/** Bytes of one row along dimension 0 (the whole tensor for a scalar). */
export function rowBytesOf(info: TensorInfo): number {
  if (info.shape.length === 0) return info.byteLength;
  const rows = info.shape[0];
  return rows === 0 ? 0 : info.byteLength / rows;
}

/** Number of rows along dimension 0 (1 for a scalar). */
export function rowsOf(info: TensorInfo): number {
  return info.shape.length === 0 ? 1 : info.shape[0];
}

/** An opened safetensors file: parsed, validated header plus ranged tensor reads. */
export class SafetensorsFile {
  readonly source: ByteSource;
  readonly name: string;
  readonly fileSize: number;
  /** N, the JSON header length. */
  readonly headerLength: number;
  /** Absolute offset of the data section (8 + N). */
  readonly dataOffset: number;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>> | null;

  private constructor(source: ByteSource, fileSize: number, headerLength: number, parsed: ParsedHeader) {
    this.source = source;
    this.name = source.name;
    this.fileSize = fileSize;
    this.headerLength = headerLength;
    this.dataOffset = 8 + headerLength;
    this.tensors = parsed.tensors;
    this.metadata = parsed.metadata;
  }

  /** Read and validate the header (two small ranged reads). */
  static async open(source: ByteSource, options: SafetensorsOpenOptions = {}): Promise<SafetensorsFile> {
    const file = source.name;
    const fileSize = await source.size();
    if (fileSize < 8) {
      throw new SafetensorsError(file, `file is ${fileSize} bytes, too short for the 8-byte header length`,
        { offset: 0, limit: fileSize });
    }
    const lenBytes = await SafetensorsFile.readOrThrow(source, 0, 8);
    const n64 = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
    const maxHeader = options.maxHeaderBytes ?? MAX_HEADER_BYTES;
    if (n64 > BigInt(maxHeader)) {
      throw new SafetensorsError(file, `header length ${n64} exceeds the ${maxHeader}-byte limit (not a safetensors ` +
        `file?)`, { offset: 0, limit: maxHeader });
    }
    const n = Number(n64);
    if (n > fileSize - 8) {
      throw new SafetensorsError(
        file,
        `header length ${n} reaches past the end of the file: header would end at offset ${8 + n} but the file is ` +
          `${fileSize} bytes (truncated?)`,
        { offset: 8 + n, limit: fileSize },
      );
    }
    const header = await SafetensorsFile.readOrThrow(source, 8, n);
    const parsed = parseSafetensorsHeader(file, header, fileSize, options);
    return new SafetensorsFile(source, fileSize, n, parsed);
  }

  private static async readOrThrow(source: ByteSource, offset: number, length: number,
    tensor?: string): Promise<Uint8Array<ArrayBuffer>> {
    try {
      const b = await source.read(offset, length);
      if (b.byteLength !== length) throw new Error(`short read: got ${b.byteLength} of ${length} bytes`);
      return b;
    } catch (e) {
      if (e instanceof SafetensorsError) throw e;
      throw new SafetensorsError(source.name, `reading ${length} bytes at offset ${offset} failed: ` +
        `${(e as Error).message}`, {
        tensor,
        offset,
        limit: offset + length,
        cause: e,
      });
    }
  }

  /** Info of one tensor (throws a `SafetensorsError` naming the file if absent). */
  get(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(this.name, 'no such tensor in this file', { tensor: name });
    return t;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** Read one tensor's bytes (one ranged read of exactly its span). */
  async read(name: string): Promise<Uint8Array<ArrayBuffer>> {
    const t = this.get(name);
    return SafetensorsFile.readOrThrow(this.source, t.byteOffset, t.byteLength, name);
  }

  /** Read bytes [start, end) of one tensor (relative to the tensor's first byte). */
  async readRange(name: string, start: number, end: number): Promise<Uint8Array<ArrayBuffer>> {
    const t = this.get(name);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > t.byteLength) {
      throw new SafetensorsError(this.name, `byte range [${start}, ${end}) outside the tensor's ` +
        `${t.byteLength} bytes`, {
        tensor: name,
        offset: t.byteOffset + start,
        limit: t.byteOffset + t.byteLength,
      });
    }
    return SafetensorsFile.readOrThrow(this.source, t.byteOffset + start, end - start, name);
  }

  /** Read rows [rowStart, rowEnd) along dimension 0 (e.g. a few embedding rows). */
  async readRows(name: string, rowStart: number, rowEnd: number): Promise<Uint8Array<ArrayBuffer>> {
    const t = this.get(name);
    const rows = rowsOf(t);
    if (!Number.isSafeInteger(rowStart) || !Number.isSafeInteger(rowEnd) || rowStart < 0 ||
      rowEnd < rowStart || rowEnd > rows) {
      throw new SafetensorsError(this.name, `row range [${rowStart}, ${rowEnd}) outside the tensor's ${rows} ` +
        `rows`, { tensor: name });
    }
    const rb = rowBytesOf(t);
    return this.readRange(name, rowStart * rb, rowEnd * rb);
  }

  /**
   * Stream a tensor in row-aligned pieces of at most `maxBytes` each (one ranged read per piece,
   * one piece in memory at a time if the consumer releases it). Rows are along dimension 0; a
   * piece holds a multiple of `rowMultiple` rows (default 1) except possibly the last.
   * Throws if one row (× rowMultiple) is larger than `maxBytes`.
   */
  readChunks(name: string, maxBytes: number,
    options: { rowMultiple?: number } = {}): AsyncIterableIterator<TensorChunk> {
    const t = this.get(name);
    const rowMultiple = options.rowMultiple ?? 1;
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw new SafetensorsError(this.name, `readChunks: maxBytes ${maxBytes} must be a positive ` +
        `integer`, { tensor: name });
    }
    if (!Number.isSafeInteger(rowMultiple) || rowMultiple <= 0) {
      throw new SafetensorsError(this.name, `readChunks: rowMultiple ${rowMultiple} must be a positive ` +
        `integer`, { tensor: name });
    }
    const rows = rowsOf(t);
    const rb = rowBytesOf(t);
    let rowsPerChunk = rb === 0 ? rows : Math.floor(maxBytes / rb);
    rowsPerChunk -= rowsPerChunk % rowMultiple;
    if (rows > 0 && rb > 0 && rowsPerChunk === 0) {
      throw new SafetensorsError(
        this.name,
        `readChunks: maxBytes ${maxBytes} is smaller than ${rowMultiple} row(s) of ${rb} bytes (shape ` +
          `${JSON.stringify(t.shape)})`,
        { tensor: name },
      );
    }
    const self = this;
    async function* gen(): AsyncGenerator<TensorChunk> {
      if (rb === 0) {
        // Empty tensor or zero-width rows: nothing to read, but still report the row span once.
        if (rows > 0) yield { rowStart: 0, rowEnd: rows, byteOffset: 0, data: new Uint8Array(0) };
        return;
      }
      for (let r = 0; r < rows; r += rowsPerChunk) {
        const rEnd = Math.min(rows, r + rowsPerChunk);
        const data = await SafetensorsFile.readOrThrow(self.source, t.byteOffset + r * rb, (rEnd - r) * rb, name);
        yield { rowStart: r, rowEnd: rEnd, byteOffset: r * rb, data };
      }
    }
    return gen();
  }

  /** Close the underlying source (if it holds a handle). */
  async close(): Promise<void> {
    await this.source.close?.();
  }
}
