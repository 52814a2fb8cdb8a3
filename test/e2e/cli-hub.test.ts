/**
 * `glm-asr download` and `--model ORG/NAME` against a stand-in Hugging Face hub on 127.0.0.1 serving the tiny
 * golden checkpoint: the model lands in the standard hub cache, transcribes with the reference ids, and works
 * offline from the cache afterwards.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensorsFile } from '../../src/weights/node-file-source';
import { makeWav, REPO } from '../audio/helpers';
import { FakeHub, randomCommit } from '../hub/fake-hub';

const TINY = join(REPO, 'test/goldens/tiny');

describe('CLI with the Hugging Face hub', () => {
  let hub: FakeHub;
  const home = mkdtempSync(join(tmpdir(), 'glm-asr-hf-home-'));
  const wav = join(home, 'clip.wav');
  let golden: number[];

  beforeAll(async () => {
    const files = readdirSync(TINY).map((f) => ({ path: f, data: new Uint8Array(readFileSync(join(TINY, f))),
      lfs: f.endsWith('.safetensors') }));
    hub = await FakeHub.start([{ id: 'test-org/tiny-glm-asr', commit: randomCommit(), files }]);
    const dump = await openSafetensorsFile(join(REPO, 'test/goldens/dumps/tiny-zh-funasr-sample.safetensors'));
    const s = await dump.read('input_samples');
    writeFileSync(wav, makeWav({ format: 3, bits: 32, rate: 16000, channels: 1,
      samples: new Float32Array(s.buffer, s.byteOffset, s.byteLength / 4) }));
    const ids = await dump.read('greedy_ids');
    golden = Array.from(new Int32Array(ids.buffer, ids.byteOffset, ids.byteLength / 4)).slice(0, -1);
    await dump.close();
  });
  afterAll(() => hub.close());

  // Asynchronous: the stand-in hub runs in this process and must keep answering while the CLI runs.
  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], {
      cwd: REPO, encoding: 'utf8', timeout: 120_000,
      env: { ...process.env, HF_HOME: home, HF_ENDPOINT: hub.endpoint, HF_HUB_OFFLINE: '', HF_TOKEN: '', ...env },
    }, (err, stdout, stderr) =>
      resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });

  it('download puts the model in the hub cache layout and prints the snapshot folder', async () => {
    const r = await cli(['download', 'test-org/tiny-glm-asr']);
    expect(r.status, r.stderr).toBe(0);
    const dir = r.stdout.trim();
    expect(dir).toMatch(/hub\/models--test-org--tiny-glm-asr\/snapshots\/[0-9a-f]{40}$/);
    expect(readFileSync(join(dir, 'model.safetensors')).equals(readFileSync(join(TINY, 'model.safetensors'))))
      .toBe(true);
  });

  it('--model ORG/NAME transcribes with the reference ids, then offline from the cache', async () => {
    const args = ['transcribe', wav, '--model', 'test-org/tiny-glm-asr', '--format', 'json', '--max-new-tokens', '32',
      '--precision', 'f32', '--segmenter', 'fixed'];
    const online = await cli(args);
    expect(online.status, online.stderr).toBe(0);
    expect(JSON.parse(online.stdout).tokens).toEqual(golden);
    const offline = await cli(args, { HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' });
    expect(offline.status, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout).tokens).toEqual(golden);
  });

  it('offline without a cached model exits 3 with a clear message', async () => {
    const r = await cli(['transcribe', wav, '--model', 'test-org/not-cached'], { HF_HUB_OFFLINE: '1' });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/not in the cache/);
  });
});
