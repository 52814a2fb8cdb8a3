import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { HubError } from '../../src/hub/errors';
import { parseRepoSpec, resolveModelSource } from '../../src/hub/resolve';
import { FakeHub, randomCommit, type FakeRepo } from './fake-hub';
import { isolateHubEnv, rejection, singleFileRepo } from './helpers';

let env: Awaited<ReturnType<typeof isolateHubEnv>>;
let hub: FakeHub;
let repo: FakeRepo;

beforeEach(async () => {
  env = await isolateHubEnv();
  repo = singleFileRepo('test-org/resolve-me', 2000);
  repo.refs = { v1: randomCommit() };
  hub = await FakeHub.start([repo]);
  process.env.HF_ENDPOINT = hub.endpoint;
});
afterEach(async () => {
  await hub.close();
  await env.restore();
});

describe('parseRepoSpec', () => {
  it('org/name with an optional @revision', () => {
    expect(parseRepoSpec('zai-org/GLM-ASR-Nano-2512')).toEqual({ repoId: 'zai-org/GLM-ASR-Nano-2512' });
    expect(parseRepoSpec('a/b@v1.0')).toEqual({ repoId: 'a/b', revision: 'v1.0' });
    expect(parseRepoSpec('a/b@refs/pr/3')).toEqual({ repoId: 'a/b', revision: 'refs/pr/3' });
    for (const bad of ['gpt2', 'a/b@', './a/b', 'a/b/c', '/abs/path', 'a/b c']) {
      expect(parseRepoSpec(bad)).toBeUndefined();
    }
  });
});

describe('resolveModelSource', () => {
  it('an existing folder is returned as-is (absolute), even when spelled like a repo id', async () => {
    const dir = path.join(env.home, 'test-org', 'resolve-me');
    await mkdir(dir, { recursive: true });
    const cwd = process.cwd();
    process.chdir(env.home);
    try {
      expect(await resolveModelSource('test-org/resolve-me')).toBe(dir);
    } finally {
      process.chdir(cwd);
    }
    expect(await resolveModelSource(dir)).toBe(dir);
    expect(hub.requests).toEqual([]);
  });

  it('org/name downloads into the cache, then resolves from it with zero requests', async () => {
    const dir = await resolveModelSource(repo.id);
    expect(dir).toBe(path.join(env.home, 'hub', 'models--test-org--resolve-me', 'snapshots', repo.commit));
    hub.requests.length = 0;
    expect(await resolveModelSource(repo.id)).toBe(dir);
    expect(hub.requests).toEqual([]);
  });

  it('org/name@revision resolves that revision', async () => {
    const dir = await resolveModelSource(`${repo.id}@v1`);
    expect(path.basename(dir)).toBe(repo.refs!.v1);
  });

  it('offline without a cache fails clearly', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    const e = await rejection(resolveModelSource(repo.id));
    expect((e as HubError).code).toBe('offline-not-cached');
    expect(e.message).toContain('HF_HUB_OFFLINE=1');
  });

  it('neither a folder nor a repo id → a clear error; a file is rejected', async () => {
    const e = await rejection(resolveModelSource('./no/such/dir'));
    expect(e.message).toContain('neither an existing folder nor a Hugging Face repo id');
    const f = path.join(env.home, 'file.bin');
    await writeFile(f, 'x');
    expect((await rejection(resolveModelSource(f))).message).toContain('is a file');
    expect(hub.requests).toEqual([]);
  });
});
