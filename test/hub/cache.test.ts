import { lstat, mkdir, readFile, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  DEFAULT_MODEL_FILES,
  inspectCachedSnapshot,
  isValidRepoId,
  linkBlobIntoSnapshot,
  parseFileSpec,
  repoCacheDir,
  resolveCachedSnapshot,
  shardsOfIndex,
} from '../../src/hub/cache';
import { downloadModel } from '../../src/hub/download';
import { hfHomeDir, hubCacheDir, hubEndpoint, hubOffline, readHubToken } from '../../src/hub/env';
import { acquireLock } from '../../src/hub/lock';
import { FakeHub, gitBlobId, randomCommit, sha256Hex, type FakeRepo } from './fake-hub';
import { isolateHubEnv, singleFileRepo } from './helpers';

let env: Awaited<ReturnType<typeof isolateHubEnv>>;

beforeEach(async () => {
  env = await isolateHubEnv();
});
afterEach(async () => {
  await env.restore();
});

/** Lay out a repo the way Python's huggingface_hub does: blobs + relative symlinks + refs/main (no newline). */
async function writePythonCache(cacheDir: string, repo: FakeRepo, paths: string[]): Promise<string> {
  const rd = path.join(cacheDir, `models--${repo.id.split('/').join('--')}`);
  await mkdir(path.join(rd, 'blobs'), { recursive: true });
  await mkdir(path.join(rd, 'refs'), { recursive: true });
  await writeFile(path.join(rd, 'refs', 'main'), repo.commit);
  for (const p of paths) {
    const f = repo.files.find((x) => x.path === p)!;
    const id = f.lfs ? sha256Hex(f.data) : gitBlobId(f.data);
    await writeFile(path.join(rd, 'blobs', id), f.data);
    const link = path.join(rd, 'snapshots', repo.commit, p);
    await mkdir(path.dirname(link), { recursive: true });
    await symlink(path.relative(path.dirname(link), path.join(rd, 'blobs', id)), link);
  }
  return path.join(rd, 'snapshots', repo.commit);
}

describe('environment', () => {
  it('HF_HUB_CACHE > HF_HOME/hub > XDG_CACHE_HOME/huggingface/hub > ~/.cache/huggingface/hub', () => {
    expect(hubCacheDir({})).toBe(path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
    expect(hubCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(path.resolve('/x/huggingface/hub'));
    expect(hubCacheDir({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' })).toBe(path.resolve('/h/hub'));
    expect(hubCacheDir({ HF_HOME: '/h', HF_HUB_CACHE: '/c' })).toBe(path.resolve('/c'));
    expect(hubCacheDir({ HUGGINGFACE_HUB_CACHE: '/legacy' })).toBe(path.resolve('/legacy'));
    expect(hfHomeDir({ HF_HOME: '~/hf' })).toBe(path.join(os.homedir(), 'hf'));
  });

  it('endpoint, offline flag and token sources', async () => {
    expect(hubEndpoint({})).toBe('https://huggingface.co');
    expect(hubEndpoint({ HF_ENDPOINT: 'http://127.0.0.1:9/' })).toBe('http://127.0.0.1:9');
    for (const v of ['1', 'ON', 'yes', 'True']) expect(hubOffline({ HF_HUB_OFFLINE: v })).toBe(true);
    for (const v of ['0', 'off', '', undefined]) expect(hubOffline({ HF_HUB_OFFLINE: v })).toBe(false);
    expect(hubOffline({ TRANSFORMERS_OFFLINE: '1' })).toBe(true);

    expect(readHubToken({ HF_HOME: env.home })).toBeUndefined();
    await writeFile(path.join(env.home, 'token'), 'hf_file\n');
    expect(readHubToken({ HF_HOME: env.home })).toEqual({ token: 'hf_file', source: path.join(env.home, 'token') });
    expect(readHubToken({ HF_HOME: env.home, HUGGING_FACE_HUB_TOKEN: 'hf_legacy' })?.token).toBe('hf_legacy');
    expect(readHubToken({ HF_HOME: env.home, HUGGING_FACE_HUB_TOKEN: 'hf_legacy',
      HF_TOKEN: 'hf_env' })).toEqual({ token: 'hf_env', source: 'HF_TOKEN' });
    const alt = path.join(env.home, 'elsewhere');
    await writeFile(alt, 'hf_alt');
    expect(readHubToken({ HF_HOME: env.home, HF_TOKEN_PATH: alt })?.token).toBe('hf_alt');
  });
});

describe('names and file selections', () => {
  it('repo ids', () => {
    for (const ok of ['zai-org/GLM-ASR-Nano-2512', 'a/b', 'org/model.v1_2', 'gpt2']) {
      expect(isValidRepoId(ok)).toBe(true);
    }
    for (const bad of ['', '/x', 'x/', 'a/b/c', 'a/../b', 'a/b--c', 'a/-b', 'a b/c', 'a/b.']) {
      expect(isValidRepoId(bad)).toBe(false);
    }
    expect(repoCacheDir('zai-org/GLM-ASR-Nano-2512', '/c')).toBe(path.join('/c', 'models--zai-org--GLM-ASR-Nano-2512'));
  });

  it('file specs', () => {
    expect(parseFileSpec('chat_template.jinja?')).toEqual({ alternatives: ['chat_template.jinja'], optional: true,
      text: 'chat_template.jinja?' });
    expect(parseFileSpec('a.json|b.json').alternatives).toEqual(['a.json', 'b.json']);
    expect(() => parseFileSpec('../x')).toThrow(/invalid file path/);
    expect(DEFAULT_MODEL_FILES).toContain('model.safetensors.index.json|model.safetensors');
    expect(shardsOfIndex('sub/model.safetensors.index.json',
      JSON.stringify({ weight_map: { a: 's1', b: 's1', c: 's2' } }))).toEqual(['sub/s1', 'sub/s2']);
    expect(() => shardsOfIndex('i.json', JSON.stringify({ weight_map: { a: '../x' } }))).toThrow(/unsafe shard path/);
  });
});

describe('a cache populated by Python (huggingface_hub layout)', () => {
  const ALL = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json',
    'chat_template.jinja', 'model.safetensors'];

  it('is reused as-is: zero requests, even for a repo the endpoint does not know', async () => {
    const repo = singleFileRepo('py-org/py-model', 5000);
    // processor/preprocessor configs: absent from the repo, marked the way huggingface_hub marks them
    const snap = await writePythonCache(path.join(env.home, 'hub'), repo, ALL);
    const rd = repoCacheDir(repo.id, path.join(env.home, 'hub'));
    for (const p of ['processor_config.json', 'preprocessor_config.json']) {
      await mkdir(path.join(rd, '.no_exist', repo.commit), { recursive: true });
      await writeFile(path.join(rd, '.no_exist', repo.commit, p), '');
    }
    const hub = await FakeHub.start([]);
    process.env.HF_ENDPOINT = hub.endpoint;
    try {
      expect(await downloadModel(repo.id)).toBe(snap);
      expect(await resolveCachedSnapshot(repo.id, 'main', { mode: 'strict' })).toBe(snap);
      expect(hub.requests).toEqual([]);
      // nothing was rewritten: still Python's symlink
      expect((await lstat(path.join(snap, 'config.json'))).isSymbolicLink()).toBe(true);
    } finally {
      await hub.close();
    }
  });

  it('lacking .no_exist markers: offline it is used; online one metadata request settles it, no ' +
    'file transfer', async () => {
    const repo = singleFileRepo('py-org/py-model2', 5000);
    const snap = await writePythonCache(path.join(env.home, 'hub'), repo, ALL);
    const hub = await FakeHub.start([repo]);
    process.env.HF_ENDPOINT = hub.endpoint;
    try {
      process.env.HF_HUB_OFFLINE = '1';
      expect(await downloadModel(repo.id)).toBe(snap);
      expect(hub.requests).toEqual([]);
      delete process.env.HF_HUB_OFFLINE;

      const strict = await inspectCachedSnapshot(repo.id, 'main', { mode: 'strict' });
      expect(strict.complete).toBe(false);
      expect(strict.missing).toEqual(['processor_config.json', 'preprocessor_config.json']);

      expect(await downloadModel(repo.id)).toBe(snap);
      expect(hub.requests.map((r) => r.url)).toEqual([`/api/models/${repo.id}/revision/main?blobs=true`]);
      hub.requests.length = 0;
      expect(await downloadModel(repo.id)).toBe(snap);
      expect(hub.requests).toEqual([]);
    } finally {
      await hub.close();
    }
  });

  it('a missing blob behind a snapshot link is fetched again (only that file)', async () => {
    const repo = singleFileRepo('py-org/py-model3', 5000);
    const snap = await writePythonCache(path.join(env.home, 'hub'), repo, ALL);
    const { rm } = await import('node:fs/promises');
    const rd = repoCacheDir(repo.id, path.join(env.home, 'hub'));
    await rm(path.join(rd, 'blobs', gitBlobId(repo.files.find((f) => f.path === 'tokenizer.json')!.data)));
    const hub = await FakeHub.start([repo]);
    process.env.HF_ENDPOINT = hub.endpoint;
    try {
      expect(await downloadModel(repo.id)).toBe(snap);
      const gets = hub.requests.filter((r) => r.url.includes('/resolve/')).map((r) => r.url);
      expect(gets).toEqual([`/${repo.id}/resolve/${repo.commit}/tokenizer.json`]);
      expect(await readFile(path.join(snap, 'tokenizer.json'), 'utf8')).toContain('BPE');
    } finally {
      await hub.close();
    }
  });

  it('inspect reports a missing ref / snapshot', async () => {
    const r1 = await inspectCachedSnapshot('a/b');
    expect(r1.complete).toBe(false);
    expect(r1.missing).toEqual(['refs/main']);
    const c = randomCommit();
    expect((await inspectCachedSnapshot('a/b', c)).missing).toEqual([`snapshots/${c}`]);
  });
});

describe('linking and locking', () => {
  it('falls back to a copy when symlinks are not used', async () => {
    const rd = path.join(env.home, 'hub', 'models--a--b');
    await mkdir(path.join(rd, 'blobs'), { recursive: true });
    await writeFile(path.join(rd, 'blobs', 'abc'), 'hello');
    const c = randomCommit();
    expect(await linkBlobIntoSnapshot(rd, c, 'sub/f.txt', 'abc', { symlinks: false })).toBe('copy');
    const f = path.join(rd, 'snapshots', c, 'sub', 'f.txt');
    expect((await lstat(f)).isFile()).toBe(true);
    expect(await readFile(f, 'utf8')).toBe('hello');
    // replacing it with a link later is atomic and leaves no temp files
    expect(await linkBlobIntoSnapshot(rd, c, 'sub/f.txt', 'abc')).toBe('symlink');
    expect(await readdir(path.join(rd, 'snapshots', c, 'sub'))).toEqual(['f.txt']);
  });

  it('a stale lock (old mtime, or a dead pid on this host) is taken over; a live one is waited for', async () => {
    const lockPath = path.join(env.home, 'locks', 'x.lock');
    await mkdir(path.dirname(lockPath), { recursive: true });

    await writeFile(lockPath, JSON.stringify({ pid: process.pid, host: os.hostname() }));
    const old = new Date(Date.now() - 3_600_000);
    await utimes(lockPath, old, old);
    const l1 = await acquireLock(lockPath, { staleMs: 60_000 });
    expect(l1).not.toBeNull();
    await l1!.release();

    await writeFile(lockPath, JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname() })); // no such process
    const l2 = await acquireLock(lockPath, { staleMs: 60_000 });
    expect(l2).not.toBeNull();

    // held by a live holder (us): a second acquirer waits until giveUp says so
    let polls = 0;
    const l3 = await acquireLock(lockPath, { staleMs: 60_000, pollMs: 5, giveUp: async () => ++polls >= 3 });
    expect(l3).toBeNull();
    const waiting = acquireLock(lockPath, { staleMs: 60_000, pollMs: 5 });
    setTimeout(() => void l2!.release(), 30);
    const l4 = await waiting;
    expect(l4).not.toBeNull();
    await l4!.release();
  });
});
