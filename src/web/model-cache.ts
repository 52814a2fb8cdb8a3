/**
 * Model files for the in-browser mode, downloaded once and kept in the browser's Cache Storage.
 *
 * `openUrlModel(baseUrl)` fetches the checkpoint's files from a folder URL (the server's own
 * `/models/<id>/`, a Hugging Face `resolve/<rev>/` URL, any static host) into the cache named
 * `MODEL_CACHE_NAME`, writes a small manifest entry listing what it stored, and returns a
 * `FileMapProvider` over the cached bodies (`Response.blob()` of a cache entry is disk-backed, so
 * the engine's ranged reads are `Blob.slice` reads and the weights are never held in JS memory as
 * a whole). A later `openUrlModel` of the same URL finds the manifest and every file in the cache
 * and makes no network request at all.
 *
 * Cache entries are only ever complete files: `cache.put` commits when the body has been read to
 * its end, so an interrupted download leaves the files finished before it, and the next attempt
 * downloads only what is missing. Without Cache Storage (pages served over plain http from
 * another host are not a secure context) the caller falls back to ranged reads with
 * `UrlFolderProvider`, with nothing cached.
 *
 * Browser-only (Cache Storage, streams); nothing here runs in Node.
 */
import { FileMapProvider, INDEX_FILE, isSafeRelPath, SINGLE_FILE } from '../weights/checkpoint';

/** Name of the Cache Storage cache holding model files. */
export const MODEL_CACHE_NAME = 'glm-asr-models-v1';

/** Files read from a checkpoint folder besides the weights; the first two are required. */
export const REQUIRED_MODEL_FILES = ['config.json', 'tokenizer.json'] as const;
export const OPTIONAL_MODEL_FILES = [
  'generation_config.json',
  'processor_config.json',
  'preprocessor_config.json',
  'tokenizer_config.json',
  'chat_template.jinja',
] as const;

const MANIFEST_SUFFIX = '?glm-asr-manifest';
const MANIFEST_VERSION = 1;

export interface DownloadProgress {
  /** The file being fetched (relative name). */
  file: string;
  /** Bytes received so far, all files together. */
  bytesDone: number;
  /** Sum of the sizes known so far (grows as each file's response arrives). */
  bytesTotal: number;
}

export interface CachedModel {
  /** Folder URL, ending with `/`. */
  baseUrl: string;
  /** Relative file name → size in bytes. */
  files: Record<string, number>;
  /** Sum of the file sizes. */
  bytes: number;
  /** ISO time of the download. */
  savedAt: string;
}

export interface OpenUrlModelOptions {
  /** Extra request headers (e.g. `Authorization` for the server's own model route). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  fetch?: typeof fetch;
}

export interface OpenedModel {
  provider: FileMapProvider;
  /** True when every file came from the cache (no request was made). */
  fromCache: boolean;
  /** Bytes fetched over the network by this call. */
  downloadedBytes: number;
  /** Size of all the model's files. */
  totalBytes: number;
}

interface Manifest {
  version: number;
  baseUrl: string;
  files: Record<string, number>;
  savedAt: string;
}

/** Cache Storage is there (it needs a secure context: https, or http on localhost / 127.0.0.1). */
export function modelCacheAvailable(): boolean {
  const g = globalThis as { caches?: CacheStorage; isSecureContext?: boolean };
  return typeof g.caches === 'object' && g.caches !== null && g.isSecureContext !== false;
}

/** `url` as an absolute folder URL ending with `/` (relative URLs resolve against the page). */
export function normalizeBaseUrl(url: string | URL): string {
  const base = (globalThis as { location?: Location }).location?.href;
  const u = new URL(String(url).trim(), base);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TypeError(`model URL must be ` +
    `http(s), got ${u.protocol}`);
  u.hash = '';
  u.search = '';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.toString();
}

function fileUrl(baseUrl: string, rel: string): string {
  if (!isSafeRelPath(rel)) throw new Error(`${baseUrl}: invalid file name ${JSON.stringify(rel)}`);
  return new URL(rel.split('/').map(encodeURIComponent).join('/'), baseUrl).toString();
}

async function readManifest(cache: Cache, baseUrl: string): Promise<Manifest | null> {
  const res = await cache.match(baseUrl + MANIFEST_SUFFIX);
  if (!res) return null;
  try {
    const m = (await res.json()) as Manifest;
    if (m.version !== MANIFEST_VERSION || typeof m.files !== 'object' || m.files === null) return null;
    return m;
  } catch {
    return null;
  }
}

/** Every model in the cache (from the manifests), largest first. */
export async function listCachedModels(): Promise<CachedModel[]> {
  if (!modelCacheAvailable()) return [];
  if (!(await caches.has(MODEL_CACHE_NAME))) return [];
  const cache = await caches.open(MODEL_CACHE_NAME);
  const out: CachedModel[] = [];
  for (const req of await cache.keys()) {
    if (!req.url.endsWith(MANIFEST_SUFFIX)) continue;
    const m = await readManifest(cache, req.url.slice(0, -MANIFEST_SUFFIX.length));
    if (!m) continue;
    const bytes = Object.values(m.files).reduce((a, b) => a + b, 0);
    out.push({ baseUrl: m.baseUrl, files: { ...m.files }, bytes, savedAt: m.savedAt });
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/**
 * Deletes cached model files: those of `baseUrl` only, or (without it) the whole cache, including
 * files of downloads that never finished. Resolves to true when something was deleted.
 */
export async function clearModelCache(baseUrl?: string): Promise<boolean> {
  if (!modelCacheAvailable()) return false;
  if (baseUrl === undefined) return caches.delete(MODEL_CACHE_NAME);
  if (!(await caches.has(MODEL_CACHE_NAME))) return false;
  const base = normalizeBaseUrl(baseUrl);
  const cache = await caches.open(MODEL_CACHE_NAME);
  let any = false;
  for (const req of await cache.keys()) {
    if (req.url.startsWith(base) && (await cache.delete(req))) any = true;
  }
  return any;
}

/** A cached entry's body as a Blob, or null when the entry is missing or has the wrong size. */
async function cachedBlob(cache: Cache, url: string, size?: number): Promise<Blob | null> {
  const res = await cache.match(url);
  if (!res) return null;
  const blob = await res.blob();
  return size === undefined || blob.size === size ? blob : null;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

/**
 * Downloads the model folder at `baseUrl` into the cache (only the files not there yet) and returns a
 * provider over the cached files. No request at all when the model was cached completely before.
 */
export async function openUrlModel(baseUrl: string | URL, options: OpenUrlModelOptions = {}): Promise<OpenedModel> {
  if (!modelCacheAvailable()) throw new Error('Cache Storage is not available on this page (it ' +
    'needs https or localhost)');
  const base = normalizeBaseUrl(baseUrl);
  const cache = await caches.open(MODEL_CACHE_NAME);
  const { signal } = options;

  // 1. Complete in the cache: no network.
  const manifest = await readManifest(cache, base);
  if (manifest) {
    const files = new Map<string, Blob>();
    for (const [name, size] of Object.entries(manifest.files)) {
      const blob = await cachedBlob(cache, fileUrl(base, name), size);
      if (!blob) break;
      files.set(name, blob);
    }
    if (files.size === Object.keys(manifest.files).length) {
      const totalBytes = [...files.values()].reduce((a, b) => a + b.size, 0);
      return { provider: new FileMapProvider(files, base), fromCache: true, downloadedBytes: 0, totalBytes };
    }
  }

  // 2. Fetch whatever is missing.
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  const progress: DownloadProgress = { file: '', bytesDone: 0, bytesTotal: 0 };
  const report = () => options.onProgress?.({ ...progress });
  let downloadedBytes = 0;
  let requests = 0;
  const files = new Map<string, Blob>();

  /** The file's Blob (from the cache, else fetched into it); null when the server says it does not exist. */
  const ensure = async (name: string, required: boolean): Promise<Blob | null> => {
    signal?.throwIfAborted();
    const url = fileUrl(base, name);
    const have = await cachedBlob(cache, url);
    if (have) {
      progress.bytesDone += have.size;
      progress.bytesTotal += have.size;
      report();
      files.set(name, have);
      return have;
    }
    let res: Response;
    requests++;
    try {
      res = await fetchFn(url, { headers: options.headers, signal, cache: 'no-store', credentials: 'same-origin' });
    } catch (e) {
      if (signal?.aborted) throw abortError(signal);
      throw new Error(`${url}: the download failed (${e instanceof Error ? e.message : String(e)}); check the URL, ` +
        `and that the host allows cross-origin requests`, { cause: e });
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel().catch(() => {});
      if (required) throw new Error(`${url}: not found (HTTP ${res.status}); is ${base} a GLM-ASR checkpoint folder?`);
      return null;
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`${url}: access denied (HTTP ${res.status}); the web page's own server wants its API key ` +
        `(Settings), other hosts may want a token`);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`.trim());
    }
    // Content-Length is the on-the-wire size; with a content coding it says nothing about the body.
    const lenHeader = res.headers.get('content-encoding') ? null : res.headers.get('content-length');
    const expected = lenHeader !== null && /^\d+$/.test(lenHeader) ? Number(lenHeader) : null;
    progress.file = name;
    progress.bytesTotal += expected ?? 0;
    report();
    let received = 0;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        received += chunk.byteLength;
        progress.bytesDone += chunk.byteLength;
        if (expected === null) progress.bytesTotal += chunk.byteLength;
        report();
        controller.enqueue(chunk);
      },
    });
    const type = res.headers.get('content-type') ?? 'application/octet-stream';
    try {
      await cache.put(url, new Response(res.body.pipeThrough(counter),
        { status: 200, headers: { 'content-type': type } }));
    } catch (e) {
      if (signal?.aborted) throw abortError(signal);
      if (e instanceof DOMException && e.name === 'QuotaExceededError') {
        throw new Error(`${url}: the browser refused to store more data (storage quota exceeded); free some space or ` +
          `load the model from a folder`, { cause: e });
      }
      throw new Error(`${url}: the download failed (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
    downloadedBytes += received;
    const blob = await cachedBlob(cache, url);
    if (!blob || (expected !== null && blob.size !== expected)) {
      await cache.delete(url);
      throw new Error(`${url}: the download was incomplete (${blob?.size ?? 0} of ${expected ?? '?'} bytes)`);
    }
    files.set(name, blob);
    return blob;
  };

  await Promise.all(REQUIRED_MODEL_FILES.map((f) => ensure(f, true)));
  await Promise.all(OPTIONAL_MODEL_FILES.map((f) => ensure(f, false)));
  // The single file first: one request when the checkpoint is not sharded (and no 404 in the console).
  const single = await ensure(SINGLE_FILE, false);
  const index = single ? null : await ensure(INDEX_FILE, false);
  if (!single && !index) throw new Error(`${base}: neither ${SINGLE_FILE} nor ${INDEX_FILE} was found; is it a ` +
    `GLM-ASR checkpoint folder?`);
  if (index) {
    let weightMap: unknown;
    try {
      weightMap = (JSON.parse(await index.text()) as { weight_map?: unknown }).weight_map;
    } catch (e) {
      throw new Error(`${fileUrl(base, INDEX_FILE)}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    if (typeof weightMap !== 'object' || weightMap === null) throw new Error(`${fileUrl(base, INDEX_FILE)}: ` +
      `no "weight_map" object`);
    const shards = [...new Set(Object.values(weightMap as Record<string, unknown>))];
    for (const shard of shards) {
      if (typeof shard !== 'string' || !isSafeRelPath(shard)) throw new Error(`${fileUrl(base, INDEX_FILE)}: bad ` +
        `shard name ${JSON.stringify(shard)}`);
      await ensure(shard, true); // one at a time: shards are large
    }
  }

  const sizes: Record<string, number> = {};
  for (const [name, blob] of files) sizes[name] = blob.size;
  const m: Manifest = { version: MANIFEST_VERSION, baseUrl: base, files: sizes, savedAt: new Date().toISOString() };
  await cache.put(base + MANIFEST_SUFFIX, new Response(JSON.stringify(m),
    { headers: { 'content-type': 'application/json' } }));
  // Ask the browser not to evict the cache under storage pressure (it may say no; that is fine).
  void (globalThis.navigator as Navigator | undefined)?.storage?.persist?.().catch(() => false);
  const totalBytes = Object.values(sizes).reduce((a, b) => a + b, 0);
  return { provider: new FileMapProvider(files, base), fromCache: requests === 0, downloadedBytes, totalBytes };
}
