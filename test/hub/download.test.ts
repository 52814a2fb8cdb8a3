import { lstat, readFile, readdir, readlink, stat, writeFile, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { downloadModel, type DownloadProgress } from '../../src/hub/download';
import { HubError } from '../../src/hub/errors';
import { FakeHub, gitBlobId, randomCommit, sha256Hex, type FakeRepo } from './fake-hub';
import { bytes, isolateHubEnv, rejection, shardedRepo, singleFileRepo } from './helpers';

let env: Awaited<ReturnType<typeof isolateHubEnv>>;
let hub: FakeHub;
let repo: FakeRepo;
let sharded: FakeRepo;
let priv: FakeRepo;
const TOKEN = 'hf_test_token_123';

const cacheDir = (): string => path.join(env.home, 'hub');
const repoDir = (id: string): string => path.join(cacheDir(), `models--${id.replace('/', '--')}`);
const fileOf = (r: FakeRepo, p: string): Uint8Array => r.files.find((f) => f.path === p)!.data;
const blobIdOf = (r: FakeRepo, p: string): string => {
  const f = r.files.find((x) => x.path === p)!;
  return f.lfs ? sha256Hex(f.data) : gitBlobId(f.data);
};

beforeEach(async () => {
  env = await isolateHubEnv();
  repo = singleFileRepo();
  sharded = shardedRepo();
  priv = { ...singleFileRepo('test-org/private-asr', 1000), private: true };
  hub = await FakeHub.start([repo, sharded, priv], { token: TOKEN });
  process.env.HF_ENDPOINT = hub.endpoint;
});

afterEach(async () => {
  await hub.close();
  await env.restore();
});

const DEFAULT_SELECTED = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json',
  'chat_template.jinja', 'model.safetensors'];

describe('downloadModel: fresh download', () => {
  it('builds the huggingface_hub cache layout (blobs, relative snapshot symlinks, refs/main, .no_exist)', async () => {
    const dir = await downloadModel(repo.id);
    const rd = repoDir(repo.id);
    expect(dir).toBe(path.join(rd, 'snapshots', repo.commit));
    expect((await readFile(path.join(rd, 'refs', 'main'), 'utf8')).trim()).toBe(repo.commit);

    // exactly the default selection, not README.md / .gitattributes
    expect((await readdir(dir)).sort()).toEqual([...DEFAULT_SELECTED].sort());
    for (const p of DEFAULT_SELECTED) {
      const link = path.join(dir, p);
      expect((await lstat(link)).isSymbolicLink()).toBe(true);
      expect(await readlink(link)).toBe(`../../blobs/${blobIdOf(repo, p)}`);
      expect(new Uint8Array(await readFile(link))).toEqual(fileOf(repo, p));
    }
    // LFS blob named by sha256, regular files by git blob id; nothing left over
    const blobs = (await readdir(path.join(rd, 'blobs'))).sort();
    expect(blobs).toEqual(DEFAULT_SELECTED.map((p) => blobIdOf(repo, p)).sort());
    expect(blobs).toContain(sha256Hex(fileOf(repo, 'model.safetensors')));
    // optional files the repo lacks are recorded as known-absent, like huggingface_hub does
    const noExist = (await readdir(path.join(rd, '.no_exist', repo.commit))).sort();
    expect(noExist).toEqual(['model.safetensors.index.json', 'preprocessor_config.json', 'processor_config.json']);
    // locks released
    expect(await readdir(path.join(cacheDir(), '.locks', `models--${repo.id.replace('/', '--')}`))).toEqual([]);

    // the LFS file came through the CDN redirect
    expect(hub.requests.some((r) => r.url.startsWith('/cdn/'))).toBe(true);
    expect(hub.requests[0].url).toBe(`/api/models/${repo.id}/revision/main?blobs=true`);
  });

  it('a second call is served from the cache with zero requests', async () => {
    const first = await downloadModel(repo.id);
    hub.requests.length = 0;
    const second = await downloadModel(repo.id);
    expect(second).toBe(first);
    expect(hub.requests).toEqual([]);
  });

  it('reports progress that adds up to the total bytes', async () => {
    const events: DownloadProgress[] = [];
    await downloadModel(repo.id, { onProgress: (p) => events.push(p) });
    const expected = DEFAULT_SELECTED.reduce((n, p) => n + fileOf(repo, p).length, 0);
    const last = events.at(-1)!;
    expect(last.totalBytes).toBe(expected);
    expect(last.bytes).toBe(expected);
    for (let i = 1; i < events.length; i++) expect(events[i].bytes).toBeGreaterThanOrEqual(events[i - 1].bytes);
    // every file ends with fileBytes === fileTotal === its size
    for (const p of DEFAULT_SELECTED) {
      const fin = events.filter((e) => e.file === p).at(-1)!;
      expect(fin.fileBytes).toBe(fileOf(repo, p).length);
      expect(fin.fileTotal).toBe(fileOf(repo, p).length);
    }
    expect(events.every((e) => e.totalBytes === expected && e.bytes <= expected)).toBe(true);
  });

  it('fetches a sharded checkpoint: index + every shard, nested paths get deeper relative links', async () => {
    const dir = await downloadModel(sharded.id, { files: ['config.json', 'tokenizer.json',
      'model.safetensors.index.json|model.safetensors', 'onnx/encoder.onnx'] });
    const rd = repoDir(sharded.id);
    for (const p of ['model.safetensors.index.json', 'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors', 'onnx/encoder.onnx']) {
      expect(new Uint8Array(await readFile(path.join(dir, p)))).toEqual(fileOf(sharded, p));
    }
    expect(await readlink(path.join(dir, 'onnx/encoder.onnx')))
      .toBe(`../../../blobs/${blobIdOf(sharded, 'onnx/encoder.onnx')}`);
    // the index was fetched once (into memory, then stored as a blob like the others)
    expect(hub.requests.filter((r) => r.url.endsWith('/model.safetensors.index.json')).length).toBe(1);
    expect(await readlink(path.join(dir, 'model.safetensors.index.json')))
      .toBe(`../../blobs/${blobIdOf(sharded, 'model.safetensors.index.json')}`);
    expect((await readdir(path.join(rd, 'blobs'))).length).toBe(6);
    hub.requests.length = 0;
    expect(await downloadModel(sharded.id, { files: ['config.json', 'tokenizer.json',
      'model.safetensors.index.json|model.safetensors', 'onnx/encoder.onnx'] })).toBe(dir);
    expect(hub.requests).toEqual([]);
  });

  it('uses HEAD for blob ids and sizes when the revision answer has no file metadata', async () => {
    hub.noBlobsMetadata = true;
    const events: DownloadProgress[] = [];
    const dir = await downloadModel(repo.id, { onProgress: (p) => events.push(p) });
    expect(hub.requests.filter((r) => r.method === 'HEAD').length).toBe(DEFAULT_SELECTED.length);
    expect(await readlink(path.join(dir, 'model.safetensors')))
      .toBe(`../../blobs/${sha256Hex(fileOf(repo, 'model.safetensors'))}`);
    expect(await readlink(path.join(dir, 'config.json'))).toBe(`../../blobs/${gitBlobId(fileOf(repo, 'config.json'))}`);
    expect(events.at(-1)!.bytes).toBe(events.at(-1)!.totalBytes);
  });

  it('downloads a branch, and a commit hash without writing a ref', async () => {
    const other: FakeRepo = { id: 'test-org/revs', commit: randomCommit(), files: sharded.files,
      refs: { 'refs/pr/1': randomCommit() } };
    await hub.close();
    hub = await FakeHub.start([other]);
    process.env.HF_ENDPOINT = hub.endpoint;
    const files = ['config.json'];
    const pr = await downloadModel(other.id, { revision: 'refs/pr/1', files });
    expect(pr.endsWith(other.refs!['refs/pr/1'])).toBe(true);
    expect((await readFile(path.join(repoDir(other.id), 'refs', 'refs', 'pr', '1'), 'utf8')).trim())
      .toBe(other.refs!['refs/pr/1']);
    expect(hub.requests[0].url).toBe(`/api/models/${other.id}/revision/refs%2Fpr%2F1?blobs=true`);

    const byCommit = await downloadModel(other.id, { revision: other.commit, files });
    expect(byCommit).toBe(path.join(repoDir(other.id), 'snapshots', other.commit));
    expect(await readdir(path.join(repoDir(other.id), 'refs'))).toEqual(['refs']); // no refs/{commit}
    hub.requests.length = 0;
    expect(await downloadModel(other.id, { revision: other.commit, files })).toBe(byCommit);
    expect(hub.requests).toEqual([]);
  });

  it('refresh: true asks the hub again and moves refs/main to the new commit', async () => {
    const first = await downloadModel(repo.id);
    const newCommit = randomCommit();
    repo.commit = newCommit;
    expect(await downloadModel(repo.id)).toBe(first); // cache-first: no request, old snapshot
    hub.requests.length = 0;
    const second = await downloadModel(repo.id, { refresh: true });
    expect(second).toBe(path.join(repoDir(repo.id), 'snapshots', newCommit));
    expect((await readFile(path.join(repoDir(repo.id), 'refs', 'main'), 'utf8')).trim()).toBe(newCommit);
    // blobs are shared between snapshots: only the revision request, no file transfers
    expect(hub.requests.map((r) => r.url)).toEqual([`/api/models/${repo.id}/revision/main?blobs=true`]);
  });

  it('a required file missing from the repo is an error naming it', async () => {
    const e = await rejection(downloadModel(repo.id, { files: ['config.json', 'missing.bin'] }));
    expect(e).toBeInstanceOf(HubError);
    expect((e as HubError).code).toBe('file-not-found');
    expect(e.message).toContain('missing.bin not found in test-org/tiny-asr@main');
  });
});

describe('downloadModel: resume and verification', () => {
  const W = 'model.safetensors';

  it('resumes an interrupted download with a Range request and ends with the right sha256', async () => {
    const K = 100_000;
    hub.cutOnce.set(W, K);
    const dir = await downloadModel(repo.id, { retryDelayMs: 1 });
    const ranged = hub.requests.filter((r) => r.range);
    expect(ranged.length).toBeGreaterThanOrEqual(1);
    const resumeAt = Number(/^bytes=(\d+)-$/.exec(ranged[0].range!)![1]);
    expect(resumeAt).toBeGreaterThan(0);
    expect(resumeAt).toBeLessThanOrEqual(K);
    expect(sha256Hex(await readFile(path.join(dir, W)))).toBe(sha256Hex(fileOf(repo, W)));
    expect((await readdir(path.join(repoDir(repo.id), 'blobs'))).some((f) => f.endsWith('.incomplete'))).toBe(false);
  });

  it('keeps the partial file when retries run out, and the next call resumes it', async () => {
    const K = 120_000;
    hub.cutOnce.set(W, K);
    const e = await rejection(downloadModel(repo.id, { retries: 0 }));
    expect((e as HubError).code).toBe('network');
    expect(e.message).toContain(W);
    expect(e.message).toMatch(/gave up after 0 retries; \d+ bytes kept in .*\.incomplete, run again to resume/);
    const part = path.join(repoDir(repo.id), 'blobs', `${sha256Hex(fileOf(repo, W))}.incomplete`);
    const partSize = (await stat(part)).size;
    expect(partSize).toBeGreaterThan(0);
    expect(partSize).toBeLessThanOrEqual(K);

    hub.requests.length = 0;
    const events: DownloadProgress[] = [];
    const dir = await downloadModel(repo.id, { onProgress: (p) => events.push(p) });
    const get = hub.requests.filter((r) => r.url.startsWith('/cdn/'));
    expect(get.map((r) => r.range)).toEqual([`bytes=${partSize}-`]);
    expect(sha256Hex(await readFile(path.join(dir, W)))).toBe(sha256Hex(fileOf(repo, W)));
    // the resumed bytes count as done from the first progress event of that file
    expect(events.find((ev) => ev.file === W)!.fileBytes).toBe(partSize);
    expect(events.at(-1)!.bytes).toBe(events.at(-1)!.totalBytes);
  });

  it('a stalled transfer times out (idle timeout) and resumes', async () => {
    hub.stallOnce.set(W, 70_000);
    const dir = await downloadModel(repo.id, { timeoutMs: 400, retryDelayMs: 1 });
    const cdn = hub.requests.filter((r) => r.url.startsWith('/cdn/'));
    expect(cdn.length).toBe(2);
    expect(cdn[1].range).toBe('bytes=70000-');
    expect(sha256Hex(await readFile(path.join(dir, W)))).toBe(sha256Hex(fileOf(repo, W)));
  });

  it('restarts from 0 when the server answers a Range request with 200', async () => {
    hub.cutOnce.set(W, 50_000);
    hub.ignoreRange = true;
    const dir = await downloadModel(repo.id, { retryDelayMs: 1 });
    expect(hub.requests.some((r) => r.range)).toBe(true);
    expect(sha256Hex(await readFile(path.join(dir, W)))).toBe(sha256Hex(fileOf(repo, W)));
  });

  it('restarts when the partial file is longer than the file (HTTP 416 / oversize)', async () => {
    const rd = repoDir(repo.id);
    await mkdir(path.join(rd, 'blobs'), { recursive: true });
    const part = path.join(rd, 'blobs', `${sha256Hex(fileOf(repo, W))}.incomplete`);
    await writeFile(part, bytes(fileOf(repo, W).length + 10, 9));
    const dir = await downloadModel(repo.id, { retryDelayMs: 1 });
    expect(sha256Hex(await readFile(path.join(dir, W)))).toBe(sha256Hex(fileOf(repo, W)));
  });

  it('detects a corrupted LFS file (sha256), deletes it and reports clearly', async () => {
    hub.corrupt.add(W);
    const e = await rejection(downloadModel(repo.id));
    expect(e).toBeInstanceOf(HubError);
    expect((e as HubError).code).toBe('integrity');
    expect(e.message).toMatch(
      /model\.safetensors of test-org\/tiny-asr@main .*sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)/,
    );
    expect(e.message).toContain('deleted');
    const blobs = await readdir(path.join(repoDir(repo.id), 'blobs'));
    expect(blobs.some((b) => b.startsWith(sha256Hex(fileOf(repo, W))))).toBe(false);
    // fixed server → the next call succeeds
    hub.corrupt.clear();
    const dir = await downloadModel(repo.id);
    expect(sha256Hex(await readFile(path.join(dir, W)))).toBe(sha256Hex(fileOf(repo, W)));
  });

  it('detects a corrupted partial file on resume (hash covers the bytes already on disk)', async () => {
    const rd = repoDir(repo.id);
    await mkdir(path.join(rd, 'blobs'), { recursive: true });
    const part = path.join(rd, 'blobs', `${sha256Hex(fileOf(repo, W))}.incomplete`);
    const bad = Uint8Array.from(fileOf(repo, W).subarray(0, 1000));
    bad[10] ^= 1;
    await writeFile(part, bad);
    const e = await rejection(downloadModel(repo.id));
    expect((e as HubError).code).toBe('integrity');
    expect(hub.requests.find((r) => r.url.startsWith('/cdn/'))!.range).toBe('bytes=1000-');
    await expect(stat(part)).rejects.toThrow();
  });

  it('verifies regular (non-LFS) files against their git blob id', async () => {
    hub.corrupt.add('config.json');
    const e = await rejection(downloadModel(repo.id));
    expect((e as HubError).code).toBe('integrity');
    expect(e.message).toContain('config.json');
    expect(e.message).toContain('git blob id mismatch');
  });

  it('an abort leaves a resumable partial file', async () => {
    const ac = new AbortController();
    let seen = 0;
    const e = await rejection(
      downloadModel(repo.id, {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.file === W && p.fileBytes > 0 && ++seen === 1) ac.abort();
        },
      }),
    );
    expect(e.name).toBe('AbortError');
    const dir = await downloadModel(repo.id);
    expect(sha256Hex(await readFile(path.join(dir, W)))).toBe(sha256Hex(fileOf(repo, W)));
  });
});

describe('downloadModel: auth, errors, offline', () => {
  it('sends HF_TOKEN as a bearer token (and reaches a private repo)', async () => {
    process.env.HF_TOKEN = TOKEN;
    const dir = await downloadModel(priv.id);
    expect(new Uint8Array(await readFile(path.join(dir, 'config.json')))).toEqual(fileOf(priv, 'config.json'));
    expect(hub.requests.length).toBeGreaterThan(0);
    expect(hub.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('reads the token file $HF_HOME/token when HF_TOKEN is unset', async () => {
    await writeFile(path.join(env.home, 'token'), `${TOKEN}\n`);
    await downloadModel(priv.id);
    expect(hub.requests[0].authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('does not send the token to a CDN on another origin', async () => {
    await hub.close();
    hub = await FakeHub.start([repo], { separateCdn: true });
    process.env.HF_ENDPOINT = hub.endpoint;
    process.env.HF_TOKEN = TOKEN;
    const dir = await downloadModel(repo.id);
    const cdn = hub.requests.filter((r) => r.server === 'cdn');
    expect(cdn.length).toBe(1);
    expect(cdn[0].authorization).toBeUndefined();
    expect(hub.requests.filter((r) => r.server === 'hub').every((r) =>
      r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(sha256Hex(await readFile(path.join(dir, 'model.safetensors'))))
      .toBe(sha256Hex(fileOf(repo, 'model.safetensors')));
  });

  it('401 → an error that mentions HF_TOKEN', async () => {
    const e = await rejection(downloadModel(priv.id));
    expect((e as HubError).code).toBe('unauthorized');
    expect((e as HubError).status).toBe(401);
    expect(e.message).toContain('HF_TOKEN');
    expect(e.message).toContain('test-org/private-asr@main');
  });

  it('401 with a rejected token names where the token came from', async () => {
    process.env.HF_TOKEN = 'hf_wrong';
    const e = await rejection(downloadModel(priv.id));
    expect((e as HubError).code).toBe('unauthorized');
    expect(e.message).toMatch(/rejected the access token from HF_TOKEN/);
  });

  it('403 on a gated repo → an error about access and HF_TOKEN', async () => {
    await hub.close();
    hub = await FakeHub.start([{ ...singleFileRepo('test-org/gated-asr', 100), gated: true }]);
    process.env.HF_ENDPOINT = hub.endpoint;
    process.env.HF_TOKEN = TOKEN;
    const e = await rejection(downloadModel('test-org/gated-asr'));
    expect((e as HubError).code).toBe('unauthorized');
    expect((e as HubError).status).toBe(403);
    expect(e.message).toContain('forbidden');
    expect(e.message).toContain('HF_TOKEN');
    expect(e.message).toContain('not in the authorized list'); // the hub's own explanation is passed on
  });

  it('a 503 on a file is retried', async () => {
    hub.failOnce.set('model.safetensors', 503);
    hub.failOnce.set('config.json', 502);
    const dir = await downloadModel(repo.id, { retryDelayMs: 1 });
    expect(sha256Hex(await readFile(path.join(dir, 'model.safetensors'))))
      .toBe(sha256Hex(fileOf(repo, 'model.safetensors')));
  });

  it('HF_HUB_CACHE overrides $HF_HOME/hub', async () => {
    const custom = path.join(env.home, 'elsewhere');
    process.env.HF_HUB_CACHE = custom;
    const dir = await downloadModel(repo.id, { files: ['config.json'] });
    expect(dir).toBe(path.join(custom, `models--test-org--tiny-asr`, 'snapshots', repo.commit));
  });

  it('404 → "repository or revision not found"', async () => {
    const e1 = await rejection(downloadModel('test-org/nope'));
    expect((e1 as HubError).code).toBe('not-found');
    expect(e1.message).toContain('repository or revision not found: test-org/nope@main');
    const e2 = await rejection(downloadModel(repo.id, { revision: 'no-such-branch' }));
    expect(e2.message).toContain(`repository or revision not found: ${repo.id}@no-such-branch`);
  });

  it('an unreachable endpoint without a cache → "cannot reach …; … not cached at …"', async () => {
    const port = new URL(hub.endpoint).port;
    await hub.close();
    const e = await rejection(downloadModel(repo.id));
    expect((e as HubError).code).toBe('network');
    expect(e.message).toContain(`cannot reach http://127.0.0.1:${port}`);
    expect(e.message).toContain(`the model ${repo.id}@main is not cached at ${repoDir(repo.id)}`);
    hub = await FakeHub.start([]); // for afterEach
  });

  it('an unreachable endpoint with a usable cache falls back to it (refresh: true)', async () => {
    const dir = await downloadModel(repo.id);
    await hub.close();
    expect(await downloadModel(repo.id, { refresh: true })).toBe(dir);
    hub = await FakeHub.start([]);
  });

  it('HF_HUB_OFFLINE=1 with a complete cache: zero requests', async () => {
    const dir = await downloadModel(repo.id);
    hub.requests.length = 0;
    process.env.HF_HUB_OFFLINE = '1';
    expect(await downloadModel(repo.id)).toBe(dir);
    expect(await downloadModel(repo.id, { refresh: true })).toBe(dir);
    expect(hub.requests).toEqual([]);
  });

  it('HF_HUB_OFFLINE=1 without a cache: a clear error naming repo, revision and cache path', async () => {
    process.env.HF_HUB_OFFLINE = 'true';
    const e = await rejection(downloadModel(repo.id, { revision: 'v1' }));
    expect((e as HubError).code).toBe('offline-not-cached');
    expect(e.message).toContain(`model ${repo.id}@v1 is not in the cache at ${repoDir(repo.id)} and HF_HUB_OFFLINE=1`);
    expect(hub.requests).toEqual([]);
  });

  it('offline with a cache missing a required file names it', async () => {
    const dir = await downloadModel(repo.id);
    const { rm } = await import('node:fs/promises');
    await rm(path.join(dir, 'tokenizer.json'));
    process.env.HF_HUB_OFFLINE = '1';
    const e = await rejection(downloadModel(repo.id));
    expect(e.message).toContain(`snapshot ${repo.commit} lacks tokenizer.json`);
  });

  it('rejects malformed repo ids and revisions before any request', async () => {
    for (const bad of ['', 'a/b/c', '../x', 'org/na me', 'org/--x']) {
      expect(((await rejection(downloadModel(bad))) as HubError).code).toBe('invalid-argument');
    }
    expect(((await rejection(downloadModel(repo.id,
      { revision: '../../etc' }))) as HubError).code).toBe('invalid-argument');
    expect(hub.requests).toEqual([]);
  });
});

describe('downloadModel: concurrency', () => {
  it('two concurrent calls download each blob once and agree on the snapshot', async () => {
    const [a, b] = await Promise.all([downloadModel(repo.id), downloadModel(repo.id)]);
    expect(a).toBe(b);
    const cdnGets = hub.requests.filter((r) => r.url.startsWith('/cdn/'));
    expect(cdnGets.length).toBe(1);
    const configGets = hub.requests.filter((r) => r.method === 'GET' && r.url.endsWith('/config.json'));
    expect(configGets.length).toBe(1);
    expect(sha256Hex(await readFile(path.join(a, 'model.safetensors'))))
      .toBe(sha256Hex(fileOf(repo, 'model.safetensors')));
  });
});
