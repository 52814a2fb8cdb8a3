/**
 * The demo model's training run is reproducible to the byte: two runs of weights-tools/train/train.py with the
 * same arguments (same seed, same thread count, fixed LR schedule) on the same data export identical
 * model.safetensors files. (Without `torch.use_deterministic_algorithms`, the embedding's multi-threaded CPU
 * backward summed rows in a varying order and the runs drifted apart.) A small training set is rendered with
 * make_data.py into a temporary folder. Skipped without /usr/bin/python3 + torch, espeak-ng and sox.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { skipWhen } from '../helpers/skip';
import { missingTools, PY, REPO, TORCH } from './python';

const missing = missingTools(['espeak-ng --version', 'sox --version', TORCH]);

describe('demo training: determinism', skipWhen(missing), () => {
  const tmp = mkdtempSync(join(tmpdir(), 'glm-asr-train-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('two runs with the same arguments export the same bytes', () => {
    const data = join(tmp, 'data');
    const made = spawnSync(PY, ['weights-tools/train/make_data.py', '--out', data, '--train', '96',
      '--dev', '8', '--heldout', '4'],
      { cwd: REPO, encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const train = (name: string) => {
      const out = join(tmp, name);
      const r = spawnSync(PY, ['weights-tools/train/train.py', '--data', data, '--out', out, '--report',
        join(tmp, `${name}.json`),
        '--batch', '16', '--steps', '6', '--warmup', '2', '--decay-start', '3', '--decay-len', '3',
        '--eval-every', '1000'],
      { cwd: REPO, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(join(out, 'model.safetensors'));
    };
    const a = train('a');
    const b = train('b');
    expect(a.length).toBeGreaterThan(100_000);
    expect(Buffer.compare(a, b), 'model.safetensors differs between two identical runs').toBe(0);
  }, 180_000);
});
