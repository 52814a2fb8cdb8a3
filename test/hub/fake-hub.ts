/**
 * A stand-in for the Hugging Face hub on 127.0.0.1 (random port), in the shape of the real HTTP API:
 * - `GET /api/models/{org}/{name}/revision/{rev}[?blobs=true]` → `{ id, sha, siblings }`, with
 *   `blobId`, `size` and `lfs: { sha256, size, pointerSize }` when `blobs=true`;
 * - `GET|HEAD /{org}/{name}/resolve/{rev}/{path}` → regular files served directly (`ETag` = git blob
 *   id), LFS files as a 302 to `/cdn/{sha256}` (`X-Linked-Etag`, `X-Linked-Size`), `X-Repo-Commit`;
 * - `GET|HEAD /cdn/{sha256}` → the bytes, with `Range` support (optionally on a second origin).
 * Fault injection: cut a body after K bytes once, stall after K bytes once, corrupt a file, ignore Range.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeFile {
  path: string;
  data: Uint8Array;
  /** Stored with git-lfs (served through the CDN redirect). */
  lfs?: boolean;
}

export interface FakeRepo {
  id: string;
  commit: string;
  files: FakeFile[];
  /** Branch/tag → commit; `main` → `commit` is implied. */
  refs?: Record<string, string>;
  /** Needs `Authorization: Bearer {hub.token}`. */
  private?: boolean;
  /** Gated: any token is accepted as authentication, but access is refused (403). */
  gated?: boolean;
}

export interface RecordedRequest {
  method: string;
  url: string;
  /** Which listener got it. */
  server: 'hub' | 'cdn';
  authorization?: string;
  range?: string;
}

export const sha256Hex = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
export const gitBlobId = (b: Uint8Array): string =>
  createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
export const randomCommit = (): string => randomBytes(20).toString('hex');

function lfsPointer(f: FakeFile): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256Hex(f.data)}\nsize ${f.data.length}\n`;
}

export interface FakeHubOptions {
  /** Token that private repos require. */
  token?: string;
  /** Serve the CDN from a second listener (another origin). */
  separateCdn?: boolean;
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  /** One-shot: cut the connection after this many body bytes of the file (by repo path). */
  readonly cutOnce = new Map<string, number>();
  /** One-shot: send this many body bytes of the file, then go silent (connection left open). */
  readonly stallOnce = new Map<string, number>();
  /** One-shot: answer this HTTP status (e.g. 503) for the file's next resolve request. */
  readonly failOnce = new Map<string, number>();
  /** Files served with one byte flipped (metadata still announces the true hash). */
  readonly corrupt = new Set<string>();
  /** Answer 200 with the whole file even when a Range is asked. */
  ignoreRange = false;
  /** Answer the revision endpoint with bare `{ rfilename }` siblings, as without `?blobs=true`. */
  noBlobsMetadata = false;

  private constructor(
    readonly repos: FakeRepo[],
    readonly opts: FakeHubOptions,
    private readonly hub: http.Server,
    private readonly cdn: http.Server | undefined,
  ) {}

  static async start(repos: FakeRepo[], opts: FakeHubOptions = {}): Promise<FakeHub> {
    const hubServer = http.createServer();
    const cdnServer = opts.separateCdn ? http.createServer() : undefined;
    const fake = new FakeHub(repos, opts, hubServer, cdnServer);
    hubServer.on('request', (req, res) => fake.handle(req, res, 'hub'));
    cdnServer?.on('request', (req, res) => fake.handle(req, res, 'cdn'));
    for (const s of [hubServer, cdnServer]) {
      if (s) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    }
    return fake;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
  }

  private get cdnBase(): string {
    return this.cdn ? `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}` : '';
  }

  async close(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      if (!s) continue;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, server: 'hub' | 'cdn'): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      server,
      authorization: req.headers.authorization,
      range: req.headers.range,
    });
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] === 'cdn' && parts.length === 2) return this.serveCdn(req, res, parts[1]);
    if (server === 'hub' && parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'revision') {
      return this.serveRevision(req, res, `${parts[2]}/${parts[3]}`, parts.slice(5).join('/'),
        url.searchParams.get('blobs') === 'true');
    }
    if (server === 'hub' && parts[2] === 'resolve' && parts.length >= 5) {
      return this.serveResolve(req, res, `${parts[0]}/${parts[1]}`, parts[3], parts.slice(4).join('/'));
    }
    this.error(res, 404, 'NotFound', 'no such route');
  }

  private error(res: http.ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code, 'x-error-message': message });
    res.end(JSON.stringify({ error: message }));
  }

  /** The repo + commit, or an error answer already sent. */
  private lookup(req: http.IncomingMessage, res: http.ServerResponse, repoId: string,
    rev: string): { repo: FakeRepo; commit: string } | undefined {
    const repo = this.repos.find((r) => r.id === repoId);
    if (repo?.private && req.headers.authorization !== `Bearer ${this.opts.token}`) {
      // like the hub: private repos look nonexistent to anonymous / wrong-token callers
      this.error(res, 401, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    if (repo?.gated) {
      if (!req.headers.authorization) this.error(res, 401, 'GatedRepo',
        'Access to this model is restricted. You must be authenticated.');
      else this.error(res, 403, 'GatedRepo', 'Access to this model is restricted and you are not ' +
        'in the authorized list.');
      return undefined;
    }
    if (!repo) {
      this.error(res, 404, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    const refs: Record<string, string> = { main: repo.commit, ...repo.refs };
    const commit = refs[rev] ?? (Object.values(refs).includes(rev) ? rev : undefined);
    if (!commit) {
      this.error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return undefined;
    }
    return { repo, commit };
  }

  private serveRevision(req: http.IncomingMessage, res: http.ServerResponse, repoId: string,
    rev: string, blobs: boolean): void {
    const hit = this.lookup(req, res, repoId, rev);
    if (!hit) return;
    const siblings = hit.repo.files.map((f) => {
      if (!blobs || this.noBlobsMetadata) return { rfilename: f.path };
      if (!f.lfs) return { rfilename: f.path, blobId: gitBlobId(f.data), size: f.data.length };
      const ptr = new TextEncoder().encode(lfsPointer(f));
      return {
        rfilename: f.path,
        blobId: gitBlobId(ptr),
        size: f.data.length,
        lfs: { sha256: sha256Hex(f.data), size: f.data.length, pointerSize: ptr.length },
      };
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ _id: 'x', id: hit.repo.id, private: !!hit.repo.private, sha: hit.commit, siblings }));
  }

  private serveResolve(req: http.IncomingMessage, res: http.ServerResponse, repoId: string, rev: string,
    filePath: string): void {
    const hit = this.lookup(req, res, repoId, rev);
    if (!hit) return;
    const f = hit.repo.files.find((x) => x.path === filePath);
    if (!f) return this.error(res, 404, 'EntryNotFound', `${filePath} does not exist on "${rev}"`);
    const fail = this.failOnce.get(filePath);
    if (fail !== undefined) {
      this.failOnce.delete(filePath);
      return this.error(res, fail, 'Unavailable', 'try again later');
    }
    if (f.lfs) {
      const ptr = new TextEncoder().encode(lfsPointer(f));
      res.writeHead(302, {
        location: `${this.cdnBase}/cdn/${sha256Hex(f.data)}?sig=${randomBytes(4).toString('hex')}`,
        'x-repo-commit': hit.commit,
        'x-linked-etag': `"${sha256Hex(f.data)}"`,
        'x-linked-size': String(f.data.length),
        etag: `"${gitBlobId(ptr)}"`,
      });
      return void res.end();
    }
    this.serveBytes(req, res, f, { 'x-repo-commit': hit.commit, etag: `"${gitBlobId(f.data)}"` });
  }

  private serveCdn(req: http.IncomingMessage, res: http.ServerResponse, sha: string): void {
    for (const r of this.repos) {
      const f = r.files.find((x) => x.lfs && sha256Hex(x.data) === sha);
      if (f) return this.serveBytes(req, res, f, { etag: `"cdn-${sha.slice(0, 8)}"` });
    }
    res.writeHead(403).end('AccessDenied');
  }

  private serveBytes(req: http.IncomingMessage, res: http.ServerResponse, f: FakeFile,
    extra: Record<string, string>): void {
    let data = f.data;
    if (this.corrupt.has(f.path)) {
      data = Uint8Array.from(data);
      data[data.length >> 1] ^= 0xff;
    }
    const total = data.length;
    let start = 0;
    let status = 200;
    const headers: Record<string, string> = { ...extra, 'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream' };
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !this.ignoreRange) {
      start = Number(m[1]);
      if (start >= total) {
        res.writeHead(416, { ...headers, 'content-range': `bytes */${total}` });
        return void res.end();
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${total - 1}/${total}`;
    }
    const body = data.subarray(start);
    headers['content-length'] = String(body.length);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();
    const cut = this.cutOnce.get(f.path);
    if (cut !== undefined && cut < body.length) {
      this.cutOnce.delete(f.path);
      res.write(body.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    const stall = this.stallOnce.get(f.path);
    if (stall !== undefined && stall < body.length) {
      this.stallOnce.delete(f.path);
      res.write(body.subarray(0, stall));
      return;
    }
    res.end(body);
  }
}
