/**
 * `glm-asr transcribe` with several files and --max-batch: the files run at once (the engine batches them) and the
 * output is the same, in the same order, as one file after the other. The first file decodes the most tokens, so
 * the others finish first: printed as they finish, they would come out of order.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../audio/helpers';

const SAMPLES = join(REPO, 'models', 'demo', 'samples');
const FILES = ['number-quiet.wav', 'digits-oh.wav', 'command-bandpass.wav'].map((f) => join(SAMPLES, f));

const transcribe = (maxBatch: number) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'transcribe', ...FILES,
    '--model', 'demo', '--format', 'jsonl', '--quiet', '--max-batch', String(maxBatch)],
  { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};

describe('transcribe FILE... --max-batch', () => {
  it('three files at once print what one at a time prints, in the order given', () => {
    const together = transcribe(3);
    expect(together.trim().split('\n').map((l) => JSON.parse(l).file)).toEqual(FILES);
    expect(together).toBe(transcribe(1));
  });
});
