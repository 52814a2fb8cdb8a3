/**
 * Checkpoints made of one `model.safetensors` or of shards listed in `model.safetensors.index.json`,
 * exposed as one tensor map. Folders are abstracted by `FileProvider`; this module holds the
 * browser-safe providers (a map of `File`s from a folder picker, a base URL). The Node folder
 * provider is `NodeFolderProvider` in `./node-file-source`.
 */
import {
  SafetensorsError,
  SafetensorsFile,
  type SafetensorsOpenOptions,
  type TensorChunk,
  type TensorInfo,
} from './safetensors';
import { BlobSource, ByteSourceError, UrlSource, type ByteSource } from './sources';
import { preview } from '../preview';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** A folder of files addressed by relative paths (`/`-separated). */
export interface FileProvider {
  /** Shown in error messages. */
  readonly name: string;
  exists(relPath: string): Promise<boolean>;
  /** Open a file for ranged reads (the caller closes it). */
  open(relPath: string): Promise<ByteSource>;
  readText(relPath: string): Promise<string>;
}

/** Errors about a checkpoint as a whole (index, shards). */
export class CheckpointError extends SafetensorsError {
  constructor(file: string, message: string, details: { tensor?: string; cause?: unknown } = {}) {
    super(file, message, details);
    this.name = 'CheckpointError';
  }
}

function normalizeRelPath(p: string): string {
  let s = p.replace(/\\/g, '/');
  while (s.startsWith('./')) s = s.slice(2);
  return s;
}

/** Relative, inside the folder: no absolute paths, no `..` or empty segments. */
export function isSafeRelPath(p: string): boolean {
  if (p === '' || p.includes('\0') || p.startsWith('/') || /^[a-zA-Z]:/.test(p) || p.includes('\\')) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

// ---------------------------------------------------------------------------------------------
// Browser providers
// ---------------------------------------------------------------------------------------------

/** A provider over files in memory / picked by the user, keyed by relative path. */
export class FileMapProvider implements FileProvider {
  readonly name: string;
  private readonly files = new Map<string, Blob>();

  constructor(files: ReadonlyMap<string, Blob> | Iterable<[string, Blob]>, name = 'selected files') {
    for (const [k, v] of files) this.files.set(normalizeRelPath(k), v);
    this.name = name;
  }

  /**
   * Build from a folder picker's `FileList` (`<input type=file webkitdirectory>`): the first
   * segment of each `webkitRelativePath` (the picked folder's own name) is dropped.
   */
  static fromFiles(files: Iterable<File>, name?: string): FileMapProvider {
    const map = new Map<string, Blob>();
    let folder: string | undefined;
    for (const f of files) {
      const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath;
      let key = f.name;
      if (rel) {
        const parts = normalizeRelPath(rel).split('/');
        if (parts.length > 1) {
          folder ??= parts[0];
          key = parts.slice(1).join('/');
        }
      }
      map.set(key, f);
    }
    return new FileMapProvider(map, name ?? folder ?? 'selected files');
  }

  private get(relPath: string): Blob | undefined {
    return this.files.get(normalizeRelPath(relPath));
  }

  async exists(relPath: string): Promise<boolean> {
    return this.get(relPath) !== undefined;
  }

  async open(relPath: string): Promise<ByteSource> {
    const b = this.get(relPath);
    if (!b) throw new ByteSourceError(`${this.name}/${relPath}`, 'no such file');
    return new BlobSource(b, `${this.name}/${normalizeRelPath(relPath)}`);
  }

  async readText(relPath: string): Promise<string> {
    const b = this.get(relPath);
    if (!b) throw new ByteSourceError(`${this.name}/${relPath}`, 'no such file');
    return b.text();
  }
}

export interface UrlFolderOptions {
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

/**
 * A provider over a base URL (e.g. `https://huggingface.co/<repo>/resolve/<rev>/`); files are
 * fetched with range requests (see `UrlSource`).
 */
export class UrlFolderProvider implements FileProvider {
  readonly name: string;
  readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly fetchFn: typeof fetch;

  constructor(baseUrl: string | URL, options: UrlFolderOptions = {}) {
    const s = String(baseUrl);
    this.baseUrl = s.endsWith('/') ? s : `${s}/`;
    this.name = this.baseUrl;
    this.headers = options.headers ?? {};
    const f = options.fetch ?? (globalThis.fetch as typeof fetch | undefined)?.bind(globalThis);
    if (!f) throw new ByteSourceError(this.name, 'no fetch implementation available');
    this.fetchFn = f; // bound: a browser's fetch called as this.fetchFn(…) is an "Illegal invocation"
  }

  urlOf(relPath: string): string {
    const p = normalizeRelPath(relPath);
    if (!isSafeRelPath(p)) throw new ByteSourceError(this.name, `invalid relative path ${JSON.stringify(relPath)}`);
    return new URL(p.split('/').map(encodeURIComponent).join('/'), this.baseUrl).toString();
  }

  async exists(relPath: string): Promise<boolean> {
    const url = this.urlOf(relPath);
    let res = await this.fetchFn(url, { method: 'HEAD', headers: this.headers });
    if (res.status === 405 || res.status === 501) {
      // No HEAD support: probe with a one-byte range instead.
      res = await this.fetchFn(url, { headers: { ...this.headers, Range: 'bytes=0-0' } });
      await res.body?.cancel().catch(() => {});
    }
    if (res.ok) return true;
    if (res.status === 404 || res.status === 410) return false;
    throw new ByteSourceError(url, `HTTP ${res.status} ${res.statusText} while checking whether the file exists`);
  }

  async open(relPath: string): Promise<ByteSource> {
    return new UrlSource(this.urlOf(relPath), { headers: this.headers, fetch: this.fetchFn });
  }

  async readText(relPath: string): Promise<string> {
    const url = this.urlOf(relPath);
    const res = await this.fetchFn(url, { headers: this.headers });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new ByteSourceError(url, `HTTP ${res.status} ${res.statusText}`);
    }
    return res.text();
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoint
// ---------------------------------------------------------------------------------------------

export interface CheckpointTensorInfo extends TensorInfo {
  /** Relative path of the file holding the tensor. */
  readonly file: string;
}

export interface CheckpointOpenOptions extends SafetensorsOpenOptions {
  /** Index file name (default `model.safetensors.index.json`). */
  indexFile?: string;
  /** Single-file name when there is no index (default `model.safetensors`). */
  singleFile?: string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A checkpoint (one file or shards) with a unified tensor map and ranged reads. */
export class Checkpoint {
  readonly provider: FileProvider;
  /** Opened files by relative path. */
  readonly files: ReadonlyMap<string, SafetensorsFile>;
  readonly tensors: ReadonlyMap<string, CheckpointTensorInfo>;
  /** `metadata` of the index file (e.g. `total_size`), or null for a single file. */
  readonly indexMetadata: Readonly<Record<string, unknown>> | null;
  /** Tensors present in a shard but not listed in the index (ignored, as HF does). */
  readonly unindexedTensors: readonly string[];

  private constructor(
    provider: FileProvider,
    files: Map<string, SafetensorsFile>,
    tensors: Map<string, CheckpointTensorInfo>,
    indexMetadata: Record<string, unknown> | null,
    unindexed: string[],
  ) {
    this.provider = provider;
    this.files = files;
    this.tensors = tensors;
    this.indexMetadata = indexMetadata;
    this.unindexedTensors = Object.freeze(unindexed);
  }

  get sharded(): boolean {
    return this.indexMetadata !== null;
  }

  /** Open the checkpoint in `provider`: the index and its shards if present, else the single file. */
  static async open(provider: FileProvider, options: CheckpointOpenOptions = {}): Promise<Checkpoint> {
    const indexFile = options.indexFile ?? INDEX_FILE;
    const singleFile = options.singleFile ?? SINGLE_FILE;
    if (await provider.exists(indexFile)) return Checkpoint.openSharded(provider, indexFile, options);
    if (await provider.exists(singleFile)) {
      const st = await Checkpoint.openFile(provider, singleFile, options);
      const tensors = new Map<string, CheckpointTensorInfo>();
      for (const [name, t] of st.tensors) tensors.set(name, Object.freeze({ ...t, file: singleFile }));
      return new Checkpoint(provider, new Map([[singleFile, st]]), tensors, null, []);
    }
    throw new CheckpointError(provider.name, `no ${singleFile} or ${indexFile} found`);
  }

  private static async openFile(provider: FileProvider, rel: string,
    options: SafetensorsOpenOptions): Promise<SafetensorsFile> {
    const src = await provider.open(rel);
    try {
      return await SafetensorsFile.open(src, options);
    } catch (e) {
      await src.close?.().catch(() => {});
      throw e;
    }
  }

  private static async openSharded(provider: FileProvider, indexFile: string,
    options: SafetensorsOpenOptions): Promise<Checkpoint> {
    const where = `${provider.name}/${indexFile}`;
    let index: unknown;
    try {
      index = JSON.parse(await provider.readText(indexFile));
    } catch (e) {
      throw new CheckpointError(where, `cannot read index: ${(e as Error).message}`, { cause: e });
    }
    if (!isPlainObject(index) || !isPlainObject(index.weight_map)) {
      throw new CheckpointError(where, 'index has no "weight_map" object');
    }
    const weightMap = new Map<string, string>();
    for (const [tensor, shard] of Object.entries(index.weight_map)) {
      if (typeof shard !== 'string') {
        throw new CheckpointError(where, `weight_map value ${preview(shard)} is not a file name`, { tensor });
      }
      const rel = normalizeRelPath(shard);
      if (!isSafeRelPath(rel)) {
        throw new CheckpointError(where, `weight_map names shard ${JSON.stringify(shard)}, which is not a relative ` +
          `path inside the folder`, { tensor });
      }
      weightMap.set(tensor, rel);
    }
    const shardNames = [...new Set(weightMap.values())];

    for (const s of shardNames) {
      if (!(await provider.exists(s))) {
        const first = [...weightMap].find(([, f]) => f === s)![0];
        throw new CheckpointError(`${provider.name}/${s}`, `shard listed in ${indexFile} is missing (needed by ` +
          `${first} and others)`, { tensor: first });
      }
    }

    const files = new Map<string, SafetensorsFile>();
    try {
      const opened = await Promise.allSettled(shardNames.map((s) => Checkpoint.openFile(provider, s, options)));
      opened.forEach((r, i) => { if (r.status === 'fulfilled') files.set(shardNames[i], r.value); });
      const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;

      // Where each tensor physically lives; a tensor stored in two shards is ambiguous.
      const location = new Map<string, string>();
      for (const [rel, st] of files) {
        for (const name of st.tensors.keys()) {
          const other = location.get(name);
          if (other !== undefined) {
            throw new CheckpointError(provider.name, `tensor is stored in two shards: ${other} and ` +
              `${rel}`, { tensor: name });
          }
          location.set(name, rel);
        }
      }
      const tensors = new Map<string, CheckpointTensorInfo>();
      for (const [name, rel] of weightMap) {
        const t = files.get(rel)!.tensors.get(name);
        if (!t) {
          const actual = location.get(name);
          throw new CheckpointError(
            `${provider.name}/${rel}`,
            `listed in ${indexFile} for this shard but absent from it${actual ? ` (found in ${actual})` : ''}`,
            { tensor: name },
          );
        }
        tensors.set(name, Object.freeze({ ...t, file: rel }));
      }
      const unindexed = [...location.keys()].filter((n) => !weightMap.has(n));
      const meta = isPlainObject(index.metadata) ? Object.freeze({ ...index.metadata }) : Object.freeze({});
      return new Checkpoint(provider, files, tensors, meta, unindexed);
    } catch (e) {
      await Promise.all([...files.values()].map((f) => f.close().catch(() => {})));
      throw e;
    }
  }

  get(name: string): CheckpointTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new CheckpointError(this.provider.name, 'no such tensor in the checkpoint', { tensor: name });
    return t;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The opened file holding `name`. */
  fileOf(name: string): SafetensorsFile {
    return this.files.get(this.get(name).file)!;
  }

  async read(name: string): Promise<Uint8Array<ArrayBuffer>> {
    return this.fileOf(name).read(name);
  }

  async readRange(name: string, start: number, end: number): Promise<Uint8Array<ArrayBuffer>> {
    return this.fileOf(name).readRange(name, start, end);
  }

  async readRows(name: string, rowStart: number, rowEnd: number): Promise<Uint8Array<ArrayBuffer>> {
    return this.fileOf(name).readRows(name, rowStart, rowEnd);
  }

  readChunks(name: string, maxBytes: number, options?: { rowMultiple?: number }): AsyncIterableIterator<TensorChunk> {
    return this.fileOf(name).readChunks(name, maxBytes, options);
  }

  /** Sum of all tensor byte lengths. */
  get totalBytes(): number {
    let n = 0;
    for (const t of this.tensors.values()) n += t.byteLength;
    return n;
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.close()));
  }
}
