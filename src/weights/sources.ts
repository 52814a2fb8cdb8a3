/**
 * Random-access byte sources for weight files. This module is browser-safe (no Node imports);
 * the Node file implementation lives in `./node-file-source`.
 *
 * Offsets and sizes are plain numbers: files up to 2^53 bytes are exact, far beyond any checkpoint.
 */

/** A random-access, read-only byte source (a file, a Blob, a URL with range support). */
export interface ByteSource {
  /** Human-readable name used in error messages (path, file name or URL). */
  readonly name: string;
  /** Total size in bytes. */
  size(): Promise<number>;
  /**
   * Read exactly `length` bytes at `offset`. Rejects if the range is outside the source or the
   * source ends early (never returns a short read).
   */
  read(offset: number, length: number): Promise<Uint8Array<ArrayBuffer>>;
  /** Release any handle held (optional; idempotent). */
  close?(): Promise<void>;
}

/** Error raised by byte sources (I/O problems, bad ranges, servers without range support). */
export class ByteSourceError extends Error {
  readonly source: string;
  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super(`${source}: ${message}`, options);
    this.name = 'ByteSourceError';
    this.source = source;
  }
}

/** Validate a (offset, length) request against a known size; shared by implementations. */
export function checkRange(name: string, offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new ByteSourceError(name, `invalid read offset ${offset}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new ByteSourceError(name, `invalid read length ${length} at offset ${offset}`);
  }
  if (offset + length > size) {
    throw new ByteSourceError(
      name,
      `read of ${length} bytes at offset ${offset} ends at ${offset + length}, past the end of ` +
        `the source (${size} bytes)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// In-memory
// ---------------------------------------------------------------------------------------------

/** A source over bytes already in memory (tests, small files). Reads return copies. */
export class MemorySource implements ByteSource {
  readonly name: string;
  private readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array, name = 'memory') {
    this.bytes = bytes;
    this.name = name;
  }
  async size(): Promise<number> {
    return this.bytes.byteLength;
  }
  async read(offset: number, length: number): Promise<Uint8Array<ArrayBuffer>> {
    checkRange(this.name, offset, length, this.bytes.byteLength);
    return this.bytes.slice(offset, offset + length);
  }
}

// ---------------------------------------------------------------------------------------------
// Blob / File
// ---------------------------------------------------------------------------------------------

/** A source over a `Blob` or `File` (browser file picker, drag and drop; Node 20 has `Blob`). */
export class BlobSource implements ByteSource {
  readonly name: string;
  private readonly blob: Blob;
  constructor(blob: Blob, name?: string) {
    this.blob = blob;
    const fileName = (blob as { name?: unknown }).name;
    this.name = name ?? (typeof fileName === 'string' && fileName !== '' ? fileName : 'blob');
  }
  async size(): Promise<number> {
    return this.blob.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array<ArrayBuffer>> {
    checkRange(this.name, offset, length, this.blob.size);
    if (length === 0) return new Uint8Array(0);
    let buf: ArrayBuffer;
    try {
      buf = await this.blob.slice(offset, offset + length).arrayBuffer();
    } catch (e) {
      throw new ByteSourceError(this.name, `reading ${length} bytes at offset ${offset} failed: ` +
        `${String(e)}`, { cause: e });
    }
    if (buf.byteLength !== length) {
      throw new ByteSourceError(this.name, `short read: wanted ${length} bytes at offset ` +
        `${offset}, got ${buf.byteLength}`);
    }
    return new Uint8Array(buf);
  }
}

// ---------------------------------------------------------------------------------------------
// URL (HTTP range requests)
// ---------------------------------------------------------------------------------------------

export interface UrlSourceOptions {
  /** Extra request headers (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** `fetch` implementation (defaults to the global one). */
  fetch?: typeof fetch;
  /** Known total size; skips the probe request. */
  size?: number;
  /** Display name for errors (defaults to the URL). */
  name?: string;
}

/** Parsed `Content-Range: bytes a-b/total` (total may be `*`). */
interface ContentRange {
  start: number;
  end: number;
  total: number | null;
}

function parseContentRange(v: string | null): ContentRange | null {
  if (!v) return null;
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(v);
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

async function discardBody(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    /* ignore */
  }
}

/**
 * A source that fetches byte ranges from a URL with `Range: bytes=a-b`. Every read must be
 * answered with `206 Partial Content` and a matching `Content-Range`; a server that ignores ranges
 * (answers 200) is rejected with a clear error instead of silently downloading the whole file.
 */
export class UrlSource implements ByteSource {
  readonly name: string;
  readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly fetchFn: typeof fetch;
  private knownSize: number | null;
  private sizePromise: Promise<number> | null = null;

  constructor(url: string | URL, options: UrlSourceOptions = {}) {
    this.url = String(url);
    this.name = options.name ?? this.url;
    this.headers = options.headers ?? {};
    const f = options.fetch ?? (globalThis.fetch as typeof fetch | undefined)?.bind(globalThis);
    if (!f) throw new ByteSourceError(this.name, 'no fetch implementation available');
    this.fetchFn = f; // bound: a browser's fetch called as this.fetchFn(…) is an "Illegal invocation"
    this.knownSize = options.size ?? null;
  }

  private async rangeRequest(start: number, endInclusive: number): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetchFn(this.url, { headers: { ...this.headers, Range: `bytes=${start}-${endInclusive}` } });
    } catch (e) {
      throw new ByteSourceError(this.name, `request for bytes ${start}-${endInclusive} failed: ` +
        `${String(e)}`, { cause: e });
    }
    if (res.status === 206) return res;
    await discardBody(res);
    if (res.status === 200) {
      throw new ByteSourceError(
        this.name,
        `server ignored the Range header (answered 200 instead of 206 for bytes ${start}-${endInclusive}); ` +
          'ranged reads are required so the whole file is never downloaded at once — use a server with range ' +
            'support, or load the file locally',
      );
    }
    if (res.status === 416) {
      throw new ByteSourceError(this.name, `range bytes ${start}-${endInclusive} not satisfiable (HTTP ` +
        `416)${res.headers.get('content-range') ? `, content-range ${res.headers.get('content-range')}` : ''}`);
    }
    throw new ByteSourceError(this.name, `HTTP ${res.status} ${res.statusText} for bytes ${start}-${endInclusive}`);
  }

  async size(): Promise<number> {
    if (this.knownSize !== null) return this.knownSize;
    if (!this.sizePromise) {
      this.sizePromise = (async () => {
        const res = await this.rangeRequest(0, 0);
        const cr = parseContentRange(res.headers.get('content-range'));
        await discardBody(res);
        if (cr && cr.total !== null) {
          this.knownSize = cr.total;
          return cr.total;
        }
        // Content-Range hidden (cross-origin without Access-Control-Expose-Headers) or without a
        // total: fall back to HEAD's Content-Length (a CORS-safelisted header).
        let head: Response;
        try {
          head = await this.fetchFn(this.url, { method: 'HEAD', headers: this.headers });
        } catch (e) {
          throw new ByteSourceError(this.name, `HEAD request failed: ${String(e)}`, { cause: e });
        }
        const len = head.headers.get('content-length');
        const n = len !== null && /^\d+$/.test(len.trim()) ? Number(len) : NaN;
        if (!head.ok || !Number.isSafeInteger(n)) {
          throw new ByteSourceError(
            this.name,
            `cannot determine size: no total in Content-Range (${res.headers.get('content-range') ?? 'absent'}) ` +
              `and HEAD gave HTTP ${head.status} with Content-Length ${len ?? 'absent'}`,
          );
        }
        this.knownSize = n;
        return n;
      })();
      this.sizePromise.catch(() => { this.sizePromise = null; });
    }
    return this.sizePromise;
  }

  async read(offset: number, length: number): Promise<Uint8Array<ArrayBuffer>> {
    const size = await this.size();
    checkRange(this.name, offset, length, size);
    if (length === 0) return new Uint8Array(0);
    const end = offset + length - 1;
    const res = await this.rangeRequest(offset, end);
    const crHeader = res.headers.get('content-range');
    const cr = parseContentRange(crHeader);
    // A 206 whose Content-Range is invisible (CORS) is accepted on its length alone.
    if ((crHeader !== null && !cr) || (cr && (cr.start !== offset || cr.end !== end))) {
      await discardBody(res);
      throw new ByteSourceError(
        this.name,
        `server answered bytes ${start(cr)} for requested bytes ${offset}-${end} (Content-Range: ` +
          `${res.headers.get('content-range') ?? 'absent'})`,
      );
    }
    let buf: ArrayBuffer;
    try {
      buf = await res.arrayBuffer();
    } catch (e) {
      throw new ByteSourceError(this.name, `reading body of bytes ${offset}-${end} failed: ${String(e)}`, { cause: e });
    }
    if (buf.byteLength !== length) {
      throw new ByteSourceError(this.name, `short read: wanted ${length} bytes at offset ` +
        `${offset}, got ${buf.byteLength}`);
    }
    return new Uint8Array(buf);
  }
}

function start(cr: ContentRange | null): string {
  return cr ? `${cr.start}-${cr.end}` : '(unknown)';
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/**
 * Wrap a source and count what is read through it (tests, diagnostics).
 * `bytesRead` and `reads` accumulate; `log` keeps every (offset, length).
 */
export class CountingSource implements ByteSource {
  readonly name: string;
  bytesRead = 0;
  reads = 0;
  readonly log: Array<{ offset: number; length: number }> = [];
  constructor(private readonly inner: ByteSource) {
    this.name = inner.name;
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  async read(offset: number, length: number): Promise<Uint8Array<ArrayBuffer>> {
    this.reads++;
    this.bytesRead += length;
    this.log.push({ offset, length });
    return this.inner.read(offset, length);
  }
  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
