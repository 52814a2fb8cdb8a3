/**
 * Download model files from the Hugging Face hub into the shared hub cache (Node only).
 *
 * Protocol (the hub's public HTTP API):
 * - `GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true` → `{ sha, siblings: [{ rfilename,
 *   blobId, size, lfs?: { sha256, size } }] }`: the commit and, per file, its git blob id and size
 *   (LFS files: their sha256 and real size).
 * - `GET {endpoint}/{repo}/resolve/{commit}/{path}` → the file (LFS files: a redirect to a CDN).
 *   `HEAD` on it gives `X-Repo-Commit`, `X-Linked-Etag` / `ETag` and `X-Linked-Size` without a
 *   redirect; used only when the revision answer lacks blob ids or sizes.
 *
 * Blobs are named like huggingface_hub names them (LFS: sha256; other files: git blob id), so the
 * cache is shared with Python. See docs/hub.md.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';

import {
  assertRepoId,
  assertRevision,
  blobFile,
  blobLockFile,
  DEFAULT_MODEL_FILES,
  incompleteFile,
  inspectCachedSnapshot,
  isCommitHash,
  isFile,
  isSafeBlobId,
  isSafeRelPath,
  isSafetensorsIndex,
  linkBlobIntoSnapshot,
  markNoExist,
  parseFileSpec,
  repoCacheDir,
  shardsOfIndex,
  snapshotDir,
  writeRef,
  type SnapshotInspection,
} from './cache';
import { hubSettings, hubTokenPath, type HubSettings, type HubSettingsOverrides } from './env';
import { describeNetworkError, HubError, isAbortError } from './errors';
import { acquireLock, DEFAULT_LOCK_STALE_MS } from './lock';

export interface DownloadProgress {
  /** Repo-relative path of the file being downloaded. */
  file: string;
  /** Bytes downloaded so far in this call, all files together (resumed bytes count as done). */
  bytes: number;
  /** Total bytes this call has to download (files already cached are not counted). */
  totalBytes: number;
  /** Bytes of `file` present so far (including a resumed partial download). */
  fileBytes: number;
  /** Size of `file`. */
  fileTotal: number;
}

export interface DownloadOptions extends HubSettingsOverrides {
  /** Branch, tag or commit hash (default `main`). */
  revision?: string;
  /**
   * Files to fetch (default `DEFAULT_MODEL_FILES`). `"name?"` is optional (skipped when the repo
   * lacks it), `"a|b"` takes the first the repo has; a `*.safetensors.index.json` brings its shards.
   */
  files?: readonly string[];
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /**
   * Ask the hub what the revision points to now even when the cache already holds a complete
   * snapshot for it (by default a complete cached snapshot is returned without any request).
   */
  refresh?: boolean;
  /** Retries of one file after a dropped connection or a 5xx/429 answer (default 5); each resumes. */
  retries?: number;
  /** First retry delay, doubled each time (default 500 ms). */
  retryDelayMs?: number;
  /** Age after which another process's download lock is considered abandoned (default 10 min). */
  lockStaleMs?: number;
  /** Link snapshot files to blobs with symlinks (default true; copies where that fails). */
  symlinks?: boolean;
}

const DEFAULT_RETRIES = 5;
const USER_AGENT = `glm-asr-webgpu; node/${process.versions.node}`;

interface RequestOpts {
  method?: string;
  headers?: Record<string, string>;
  /** Send the token (only ever to the endpoint's origin). */
  auth?: boolean;
  watchdog: Watchdog;
}

/** One file of the repo at the resolved commit, as far as the hub told us. */
interface RemoteFile {
  path: string;
  size?: number;
  /** LFS files: sha256 of the content (also the blob name). */
  sha256?: string;
  /** Non-LFS files: git blob id (sha1 of `blob {size}\0` + content; also the blob name). */
  gitOid?: string;
  /** Name under `blobs/`. */
  blobId?: string;
}

function normalizeEtag(v: string | null): string | undefined {
  if (!v) return undefined;
  const s = v.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  return s || undefined;
}

function parseSize(v: string | null | undefined): number | undefined {
  if (v == null || !/^\d+$/.test(v.trim())) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseContentRange(v: string | null): { start: number; total?: number } | undefined {
  const m = v && /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(v.trim());
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function fileSize(p: string): Promise<number> {
  try {
    return (await fsp.stat(p)).size;
  } catch {
    return 0;
  }
}

/** The running hash a file is verified with, or undefined when the hub gave nothing to check against. */
function newHash(rf: RemoteFile): Hash | undefined {
  if (rf.sha256) return createHash('sha256');
  if (rf.gitOid && rf.size !== undefined) return createHash('sha1').update(`blob ${rf.size}\0`);
  return undefined;
}

class Progress {
  totalBytes = 0;
  private done = 0;
  private last = '';

  constructor(private readonly cb?: (p: DownloadProgress) => void) {}

  update(file: string, fileBytes: number, fileTotal: number): void {
    if (!this.cb) return;
    const key = `${file}\0${fileBytes}\0${fileTotal}`;
    if (key === this.last) return; // no news
    this.last = key;
    this.cb({ file, bytes: this.done + fileBytes, totalBytes: this.totalBytes, fileBytes, fileTotal });
  }

  /** The file is in place: a final event (unless the last one already said so), then count it as done. */
  complete(file: string, fileTotal: number): void {
    this.update(file, fileTotal, fileTotal);
    this.done += fileTotal;
    this.last = '';
  }
}

/** Aborts a request when nothing arrives for `ms`; `kick()` restarts the clock. */
class Watchdog {
  private readonly ac = new AbortController();
  private timer?: ReturnType<typeof setTimeout>;
  fired = false;
  readonly signal: AbortSignal;

  constructor(
    readonly ms: number,
    user?: AbortSignal,
  ) {
    this.signal = user ? AbortSignal.any([user, this.ac.signal]) : this.ac.signal;
    this.kick();
  }

  kick(): void {
    clearTimeout(this.timer);
    if (!(this.ms > 0 && Number.isFinite(this.ms))) return;
    this.timer = setTimeout(() => {
      this.fired = true;
      this.ac.abort(new Error(`no data for ${this.ms / 1000} s`));
    }, this.ms);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

/** Per-file download state that survives retries: the running hash over the bytes already on disk. */
interface PartState {
  hash?: Hash;
  hashed: number;
}

class Downloader {
  private readonly s: HubSettings;
  private readonly revision: string;
  private readonly repoDir: string;
  private readonly signal?: AbortSignal;
  private readonly progress: Progress;
  private readonly prefetched = new Map<string, Uint8Array>();
  private commit = '';

  constructor(
    private readonly repoId: string,
    private readonly o: DownloadOptions,
  ) {
    this.s = hubSettings(o);
    this.revision = o.revision ?? 'main';
    this.repoDir = repoCacheDir(repoId, this.s.cacheDir);
    this.signal = o.signal;
    this.progress = new Progress(o.onProgress);
  }

  private get target(): string {
    return `${this.repoId}@${this.revision}`;
  }

  private describeMissing(c: SnapshotInspection): string {
    return c.commit ? `snapshot ${c.commit} lacks ${c.missing.join(', ')}` :
      `nothing cached for revision ${this.revision}`;
  }

  private inspect(mode: 'strict' | 'lenient'): Promise<SnapshotInspection> {
    return inspectCachedSnapshot(this.repoId, this.revision, { cacheDir: this.s.cacheDir, files: this.o.files, mode });
  }

  async run(): Promise<string> {
    assertRepoId(this.repoId);
    assertRevision(this.revision, this.repoId);
    const specs = (this.o.files ?? DEFAULT_MODEL_FILES).map(parseFileSpec);
    this.signal?.throwIfAborted();

    if (this.s.offline || !this.o.refresh) {
      const cached = await this.inspect(this.s.offline ? 'lenient' : 'strict');
      if (cached.complete) return cached.dir!;
      if (this.s.offline) {
        const why = this.s.offlineSource === 'option' ? 'offline mode is on' : 'HF_HUB_OFFLINE=1';
        throw new HubError(
          'offline-not-cached',
          `model ${this.target} is not in the cache at ${this.repoDir} and ${why} (${this.describeMissing(cached)})`,
          { repoId: this.repoId, revision: this.revision },
        );
      }
    }

    let files: Map<string, RemoteFile>;
    try {
      ({ commit: this.commit, files } = await this.fetchRevisionInfo());
    } catch (e) {
      if (e instanceof HubError && e.code === 'network') {
        // Like huggingface_hub: an unreachable hub is not fatal when the cache can serve the request.
        const cached = await this.inspect('lenient');
        if (cached.complete) return cached.dir!;
        throw new HubError(
          'network',
          `cannot reach ${this.s.endpoint}: ${describeNetworkError(e.cause ?? e)}; the model ${this.target} is not ` +
            `cached at ${this.repoDir} (${this.describeMissing(cached)})`,
          { repoId: this.repoId, revision: this.revision, cause: e.cause ?? e },
        );
      }
      throw e;
    }
    await writeRef(this.repoDir, this.revision, this.commit);

    // Resolve the selection against the repo's file list.
    const selected = new Map<string, RemoteFile>();
    for (const spec of specs) {
      const hit = spec.alternatives.find((a) => files.has(a));
      for (const a of spec.alternatives) {
        if (a === hit) break;
        await markNoExist(this.repoDir, this.commit, a);
      }
      if (hit === undefined && !spec.optional) {
        throw new HubError(
          'file-not-found',
          `${spec.alternatives.join(' or ')} not found in ${this.target} (commit ${this.commit})`,
          { repoId: this.repoId, revision: this.revision },
        );
      }
      if (hit !== undefined) selected.set(hit, files.get(hit)!);
    }
    for (const rf of [...selected.values()]) {
      if (!isSafetensorsIndex(rf.path)) continue;
      for (const shard of shardsOfIndex(rf.path, await this.indexText(rf))) {
        const sf = files.get(shard);
        if (!sf) {
          throw new HubError('file-not-found', `${shard}, listed in ${rf.path}, is not in ${this.target} ` +
            `(commit ${this.commit})`, {
            repoId: this.repoId,
            revision: this.revision,
          });
        }
        selected.set(shard, sf);
      }
    }

    // Plan: what is already in the snapshot, what only needs a link, what must be downloaded.
    const snap = snapshotDir(this.repoDir, this.commit);
    const toFetch: RemoteFile[] = [];
    for (const rf of selected.values()) {
      if (await isFile(path.join(snap, ...rf.path.split('/')))) continue;
      if (!rf.blobId || rf.size === undefined) await this.head(rf);
      if (await isFile(blobFile(this.repoDir, rf.blobId!))) await this.link(rf);
      else toFetch.push(rf);
    }
    this.progress.totalBytes = toFetch.reduce((n, rf) => n + (rf.size ?? 0), 0);
    for (const rf of toFetch) {
      await this.fetchBlob(rf);
      await this.link(rf);
    }
    return snap;
  }

  private link(rf: RemoteFile): Promise<unknown> {
    return linkBlobIntoSnapshot(this.repoDir, this.commit, rf.path, rf.blobId!, { symlinks: this.o.symlinks });
  }

  // -------------------------------------------------------------------------------------------
  // HTTP
  // -------------------------------------------------------------------------------------------

  private resolveUrl(relPath: string): string {
    const encoded = relPath.split('/').map(encodeURIComponent).join('/');
    return `${this.s.endpoint}/${this.repoId}/resolve/${this.commit}/${encoded}`;
  }

  /** fetch with auth + user agent; connection failures become `HubError('network')`. */
  private async request(url: string, init: RequestOpts): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', USER_AGENT);
    if (this.s.token && init.auth !== false) headers.set('authorization', `Bearer ${this.s.token.token}`);
    try {
      return await fetch(url, { method: init.method ?? 'GET', headers, redirect: 'manual',
        signal: init.watchdog.signal });
    } catch (e) {
      throw this.transportError(e, init.watchdog, `cannot reach ${new URL(url).origin}`);
    }
  }

  /** A failed fetch / body read: the caller's abort as-is, else a retryable network error (stalls included). */
  private transportError(e: unknown, wd: Watchdog, what: string): unknown {
    if (this.signal?.aborted) return this.signal.reason ?? e;
    if (isAbortError(e) && !wd.fired) return e;
    const why = wd.fired ? `no data for ${wd.ms / 1000} s` : describeNetworkError(e);
    return new HubError('network', `${what}: ${why}`, { repoId: this.repoId, revision: this.revision,
      cause: e, retryable: true });
  }

  /**
   * GET/HEAD following redirects by hand, so the token is only ever sent to the endpoint's own
   * origin (LFS files redirect to a CDN with a signed URL) while other headers (Range) are kept.
   */
  private async requestFollow(url: string, init: RequestOpts): Promise<Response> {
    const origin = new URL(this.s.endpoint).origin;
    let cur = url;
    for (let hop = 0; hop < 10; hop++) {
      const res = await this.request(cur, { ...init, auth: new URL(cur).origin === origin });
      const loc = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !loc) return res;
      await res.body?.cancel().catch(() => {});
      cur = new URL(loc, cur).toString();
    }
    throw new HubError('http', `too many redirects for ${url}`, { repoId: this.repoId, revision: this.revision });
  }

  private async httpError(res: Response, file?: string): Promise<HubError> {
    const errCode = res.headers.get('x-error-code') ?? '';
    let serverMsg = res.headers.get('x-error-message') ?? '';
    if (!serverMsg) {
      try {
        const body = (await res.text()).slice(0, 2000);
        try {
          const j = JSON.parse(body) as { error?: unknown };
          serverMsg = typeof j.error === 'string' ? j.error : '';
        } catch {
          serverMsg = body.trim().slice(0, 200);
        }
      } catch {
        // no body
      }
    }
    const says = serverMsg ? ` (hub says: ${serverMsg})` : '';
    const details = { repoId: this.repoId, revision: this.revision, status: res.status };
    const tok = this.s.token;
    switch (res.status) {
      case 401:
        return new HubError(
          'unauthorized',
          tok
            ? `the hub rejected the access token from ${tok.source} for ${this.target} (HTTP 401 from ` +
              `${this.s.endpoint})${says}; check that HF_TOKEN holds a valid token with read access to this repository`
            : `${this.target} needs authentication (HTTP 401 from ${this.s.endpoint})${says}: the repository is ` +
              `private or gated, or does not exist; set HF_TOKEN to a Hugging Face access token (or save ` +
              `one in ${hubTokenPath()})`,
          details,
        );
      case 403:
        return new HubError(
          'unauthorized',
          `access to ${this.target} is forbidden (HTTP 403 from ${this.s.endpoint})${says}; ` +
            (tok
              ? `the token from ${tok.source} has no access: for a gated model, accept its conditions at ` +
                `${this.s.endpoint}/${this.repoId} with that account, or set HF_TOKEN to another token`
              : `set HF_TOKEN to a Hugging Face access token with access to it (gated models: accept their ` +
                `conditions at ${this.s.endpoint}/${this.repoId} first)`),
          details,
        );
      case 404:
        if (file && errCode === 'EntryNotFound') {
          return new HubError('file-not-found', `${file} not found in ${this.target} (commit ` +
            `${this.commit})${says}`, details);
        }
        return new HubError('not-found', `repository or revision not found: ${this.target} at ${this.s.endpoint} ` +
          `(HTTP 404)${says}`, details);
      default:
        return new HubError(
          'http',
          `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} from ${this.s.endpoint} for ` +
            `${file ? `${file} of ` : ''}${this.target}${says}`,
          { ...details, retryable: res.status >= 500 || res.status === 429 },
        );
    }
  }

  /** Retry `fn` on retryable errors (connection drops, 5xx/429), with exponential back-off. */
  private async withRetries<T>(fn: () => Promise<T>, retryConnectionErrors: boolean): Promise<T> {
    const retries = this.o.retries ?? DEFAULT_RETRIES;
    const delay = this.o.retryDelayMs ?? 500;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const retry =
          e instanceof HubError && e.retryable && (retryConnectionErrors || e.code !== 'network') &&
            attempt < retries && !this.signal?.aborted;
        if (!retry) throw e;
        await sleep(delay * 2 ** attempt, this.signal);
      }
    }
  }

  private async fetchRevisionInfo(): Promise<{ commit: string; files: Map<string, RemoteFile> }> {
    const url = `${this.s.endpoint}/api/models/${this.repoId}/revision/${encodeURIComponent(this.revision)}?blobs=true`;
    const json = await this.withRetries(async () => {
      const watchdog = new Watchdog(this.s.metadataTimeoutMs, this.signal);
      try {
        const res = await this.requestFollow(url, { headers: { accept: 'application/json' }, watchdog });
        if (!res.ok) throw await this.httpError(res);
        let text: string;
        try {
          text = await res.text();
        } catch (e) {
          throw this.transportError(e, watchdog, `cannot read the answer of ${this.s.endpoint}`);
        }
        try {
          return JSON.parse(text) as unknown;
        } catch (e) {
          throw new HubError('http', `malformed answer from ${url}: ${(e as Error).message}`,
            { repoId: this.repoId, revision: this.revision, cause: e });
        }
      } finally {
        watchdog.stop();
      }
    }, false);
    const info = json as { sha?: unknown; siblings?: unknown };
    if (typeof info?.sha !== 'string' || !isCommitHash(info.sha) || !Array.isArray(info.siblings)) {
      throw new HubError('http', `unexpected answer from ${url}: no commit "sha" or "siblings" list`,
        { repoId: this.repoId, revision: this.revision });
    }
    if (isCommitHash(this.revision) && info.sha !== this.revision) {
      throw new HubError('http', `the hub resolved commit ${this.revision} to ${info.sha}`,
        { repoId: this.repoId, revision: this.revision });
    }
    const files = new Map<string, RemoteFile>();
    for (const raw of info.siblings as unknown[]) {
      const s = raw as {
        rfilename?: unknown; size?: unknown; blobId?: unknown;
        lfs?: { sha256?: unknown; oid?: unknown; size?: unknown } | null;
      };
      if (typeof s?.rfilename !== 'string' || !isSafeRelPath(s.rfilename)) continue;
      const rf: RemoteFile = { path: s.rfilename };
      const lfs = s.lfs && typeof s.lfs === 'object' ? s.lfs : undefined;
      const sha = lfs ? (lfs.sha256 ?? lfs.oid) : undefined;
      if (typeof sha === 'string' && /^[0-9a-f]{64}$/i.test(sha)) rf.sha256 = sha.toLowerCase();
      const size = typeof lfs?.size === 'number' ? lfs.size : s.size;
      if (typeof size === 'number' && Number.isSafeInteger(size) && size >= 0) rf.size = size;
      if (!lfs && typeof s.blobId === 'string' && isCommitHash(s.blobId)) rf.gitOid = s.blobId;
      rf.blobId = rf.sha256 ?? rf.gitOid;
      files.set(rf.path, rf);
    }
    return { commit: info.sha, files };
  }

  /** Fill in blob id / size / hash from the resolve endpoint's headers (what huggingface_hub does per file). */
  private async head(rf: RemoteFile): Promise<void> {
    const url = this.resolveUrl(rf.path);
    await this.withRetries(async () => {
      let cur = url;
      for (let hop = 0; hop < 10; hop++) {
        const watchdog = new Watchdog(this.s.metadataTimeoutMs, this.signal);
        const auth = new URL(cur).origin === new URL(this.s.endpoint).origin;
        const head = { method: 'HEAD', headers: { 'accept-encoding': 'identity' }, auth, watchdog };
        const res = await this.request(cur, head).finally(() =>
          watchdog.stop(),
        );
        if (res.status >= 400) throw await this.httpError(res, rf.path);
        const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
        const loc = res.headers.get('location');
        if (res.status >= 300 && !etag && loc) {
          cur = new URL(loc, cur).toString(); // a plain redirect (renamed repo): follow
          continue;
        }
        if (!etag || !isSafeBlobId(etag)) {
          throw new HubError('http', `no usable ETag for ${rf.path} of ${this.target} from ${cur}`,
            { repoId: this.repoId, revision: this.revision });
        }
        const linked = res.headers.get('x-linked-size');
        rf.size ??= parseSize(linked ?? res.headers.get('content-length'));
        rf.blobId = etag;
        if (/^[0-9a-f]{64}$/.test(etag)) rf.sha256 ??= etag;
        else if (isCommitHash(etag) && !linked) rf.gitOid ??= etag;
        return;
      }
      throw new HubError('http', `too many redirects for ${url}`, { repoId: this.repoId, revision: this.revision });
    }, false);
  }

  // -------------------------------------------------------------------------------------------
  // Files
  // -------------------------------------------------------------------------------------------

  private integrityError(rf: RemoteFile, what: string): HubError {
    return new HubError(
      'integrity',
      `${rf.path} of ${this.target} (commit ${this.commit}): ${what}; the corrupt download was ` +
        `deleted, run again to retry`,
      { repoId: this.repoId, revision: this.revision },
    );
  }

  /** Check size and hash; `digest` is the hex digest of `newHash(rf)` over the whole content. */
  private verify(rf: RemoteFile, size: number, digest: string | undefined): string | undefined {
    if (rf.size !== undefined && size !== rf.size) return `size mismatch (expected ${rf.size} bytes, got ${size})`;
    if (rf.sha256 && digest !== rf.sha256) return `sha256 mismatch (expected ${rf.sha256}, got ${digest})`;
    // (a git blob id needs the size up front; when it was only learnt mid-resume there is no digest to compare)
    if (!rf.sha256 && rf.gitOid && digest !== undefined && digest !== rf.gitOid) {
      return `git blob id mismatch (expected ${rf.gitOid}, got ${digest})`;
    }
    return undefined;
  }

  /** The text of a safetensors index: from the cache, else fetched into memory (stored with the other files). */
  private async indexText(rf: RemoteFile): Promise<string> {
    const inSnap = path.join(snapshotDir(this.repoDir, this.commit), ...rf.path.split('/'));
    if (await isFile(inSnap)) return fsp.readFile(inSnap, 'utf8');
    if (rf.blobId && (await isFile(blobFile(this.repoDir, rf.blobId)))) {
      return fsp.readFile(blobFile(this.repoDir, rf.blobId), 'utf8');
    }
    const bytes = await this.withRetries(async () => {
      const watchdog = new Watchdog(this.s.downloadTimeoutMs, this.signal);
      let buf: Uint8Array;
      let res: Response;
      try {
        res = await this.requestFollow(this.resolveUrl(rf.path),
          { headers: { 'accept-encoding': 'identity' }, watchdog });
        if (!res.ok) throw await this.httpError(res, rf.path);
        try {
          buf = new Uint8Array(await res.arrayBuffer());
        } catch (e) {
          throw this.transportError(e, watchdog, `download of ${rf.path} of ${this.target} interrupted`);
        }
      } finally {
        watchdog.stop();
      }
      if (!rf.blobId) {
        rf.blobId = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
        if (!rf.blobId || !isSafeBlobId(rf.blobId)) rf.blobId = createHash('sha256').update(buf).digest('hex');
      }
      rf.size ??= buf.length;
      const bad = this.verify(rf, buf.length, newHash(rf)?.update(buf).digest('hex'));
      if (bad) throw this.integrityError(rf, bad);
      return buf;
    }, true);
    this.prefetched.set(rf.path, bytes);
    return new TextDecoder().decode(bytes);
  }

  /** Make `blobs/{blobId}` exist: downloaded (resumable, verified) under a per-blob lock. */
  private async fetchBlob(rf: RemoteFile): Promise<void> {
    const blobId = rf.blobId!;
    const blob = blobFile(this.repoDir, blobId);
    const lock = await acquireLock(blobLockFile(this.repoDir, blobId), {
      staleMs: this.o.lockStaleMs ?? DEFAULT_LOCK_STALE_MS,
      signal: this.signal,
      giveUp: () => isFile(blob),
    });
    try {
      if (!lock || (await isFile(blob))) {
        this.progress.complete(rf.path, rf.size ?? 0); // another process fetched it meanwhile
        return;
      }
      const part = incompleteFile(this.repoDir, blobId);
      await fsp.mkdir(path.dirname(part), { recursive: true });
      const pre = this.prefetched.get(rf.path);
      if (pre) {
        await fsp.writeFile(part, pre);
      } else {
        const state: PartState = { hashed: 0 };
        try {
          await this.withRetries(() => this.downloadPart(rf, part, state), true);
        } catch (e) {
          if (!(e instanceof HubError) || !e.retryable) throw e;
          const kept = await fileSize(part);
          throw new HubError('network', `${e.message} (gave up after ${this.o.retries ?? DEFAULT_RETRIES} ` +
            `retries${kept ? `; ${kept} bytes kept in ${part}, run again to resume` : ''})`, {
            repoId: this.repoId,
            revision: this.revision,
            status: e.status,
            cause: e,
          });
        }
      }
      const fh = await fsp.open(part, 'r+');
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await fsp.rename(part, blob);
      this.progress.complete(rf.path, rf.size ?? pre?.length ?? 0);
    } finally {
      await lock?.release();
    }
  }

  /** Hash what is already in the partial file (resume), reusing the running hash when it is in step. */
  private async syncHash(rf: RemoteFile, part: string, offset: number, state: PartState): Promise<void> {
    if (state.hash && state.hashed === offset) return;
    state.hash = newHash(rf);
    state.hashed = 0;
    if (!state.hash || offset === 0) {
      state.hashed = offset;
      return;
    }
    const h = state.hash;
    await new Promise<void>((resolve, reject) => {
      const rs = createReadStream(part, { start: 0, end: offset - 1, highWaterMark: 1 << 20 });
      rs.on('data', (c) => h.update(c as Buffer));
      rs.on('error', reject);
      rs.on('end', resolve);
    });
    state.hashed = offset;
  }

  /** A retryable failure of one transfer of `rf`. */
  private transferError(rf: RemoteFile, msg: string, cause?: unknown): HubError {
    return new HubError('network', `download of ${rf.path} of ${this.target}: ${msg}`, {
      repoId: this.repoId,
      revision: this.revision,
      cause,
      retryable: true,
    });
  }

  /** One attempt: resume `part` from its current size with a Range request, append, verify when complete. */
  private async downloadPart(rf: RemoteFile, part: string, state: PartState): Promise<void> {
    let offset = await fileSize(part);
    if (rf.size !== undefined && offset > rf.size) {
      await fsp.rm(part, { force: true });
      offset = 0;
    }
    await this.syncHash(rf, part, offset, state);

    if (rf.size === undefined || offset < rf.size) {
      const watchdog = new Watchdog(this.s.downloadTimeoutMs, this.signal);
      try {
        offset = await this.transfer(rf, part, state, offset, watchdog);
      } finally {
        watchdog.stop();
      }
    }

    const digest = state.hash?.digest('hex');
    state.hash = undefined;
    const bad = this.verify(rf, offset, digest);
    if (bad) {
      await fsp.rm(part, { force: true });
      throw this.integrityError(rf, bad);
    }
  }

  /** GET the file from byte `offset` (a Range request when > 0) and append it to `part`; returns the new size. */
  private async transfer(rf: RemoteFile, part: string, state: PartState, offset: number,
    watchdog: Watchdog): Promise<number> {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await this.requestFollow(this.resolveUrl(rf.path), { headers, watchdog });
    const restart = async (why: string): Promise<never> => {
      await res.body?.cancel().catch(() => {});
      await fsp.rm(part, { force: true });
      state.hash = undefined;
      throw this.transferError(rf, `${why}; restarting from 0`);
    };
    if (res.status === 416 && offset > 0) await restart(`the server refused to resume at byte ${offset} (HTTP 416)`);
    if (!res.ok) throw await this.httpError(res, rf.path);
    if (res.status === 206) {
      const cr = parseContentRange(res.headers.get('content-range'));
      if (!cr || cr.start !== offset) await restart(`unexpected Content-Range "${res.headers.get('content-range')}" ` +
        `for a resume at byte ${offset}`);
      rf.size ??= cr!.total;
    } else {
      // 200: the server ignored the Range header; start over.
      if (offset > 0) {
        offset = 0;
        state.hash = undefined;
      }
      rf.size ??= parseSize(res.headers.get('content-length'));
    }
    if (!state.hash && offset === 0) {
      state.hash = newHash(rf);
      state.hashed = 0;
    }
    if (!res.body) throw this.transferError(rf, 'empty response body');

    const total = rf.size ?? 0;
    this.progress.update(rf.path, offset, total);
    const fh = await fsp.open(part, offset > 0 ? 'a' : 'w');
    const reader = res.body.getReader();
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          throw this.transportError(e, watchdog, `download of ${rf.path} of ${this.target}: connection lost after ` +
            `${offset} of ${rf.size ?? '?'} bytes`);
        }
        if (chunk.done) break;
        watchdog.kick();
        const bytes = chunk.value;
        if (rf.size !== undefined && offset + bytes.length > rf.size) {
          await reader.cancel().catch(() => {});
          await fh.close().catch(() => {});
          await fsp.rm(part, { force: true });
          state.hash = undefined;
          throw this.integrityError(rf, `the server sent more than the expected ${rf.size} bytes`);
        }
        await fh.write(bytes);
        state.hash?.update(bytes);
        offset += bytes.length;
        state.hashed = offset;
        this.progress.update(rf.path, offset, total);
      }
    } finally {
      reader.releaseLock();
      await fh.close().catch(() => {});
    }
    if (rf.size !== undefined && offset < rf.size) throw this.transferError(rf,
      `connection closed after ${offset} of ${rf.size} bytes`);
    return offset;
  }
}

/**
 * Download the files a model needs from the Hugging Face hub into the hub cache and return the
 * snapshot folder (`…/models--{org}--{name}/snapshots/{commit}`).
 *
 * A cached snapshot that already holds the selection is returned without any request (unless
 * `refresh`). Offline (`HF_HUB_OFFLINE=1` or `offline: true`) only the cache is used. Downloads
 * resume from `blobs/{id}.incomplete`, are verified against the hub's size and sha256 / git blob
 * id, and are moved into place atomically.
 */
export async function downloadModel(repoId: string, options: DownloadOptions = {}): Promise<string> {
  return new Downloader(repoId, options).run();
}
