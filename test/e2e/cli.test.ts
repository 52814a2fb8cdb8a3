/**
 * The `glm-asr` CLI as a user runs it: a real process, a real checkpoint folder (the tiny golden one), audio
 * files on disk. Checks output formats, that the generated ids equal the PyTorch reference's, and the exit
 * codes and messages for bad input.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openSafetensorsFile } from '../../src/weights/node-file-source';
import { makeWav, REPO } from '../audio/helpers';

const MODEL = join(REPO, 'test/goldens/tiny');
const DUMP = join(REPO, 'test/goldens/dumps/tiny-en-ldc93s1.safetensors');

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], {
    cwd: REPO, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('glm-asr CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glm-asr-cli-'));
  const wav = join(dir, 'ldc93s1.wav');
  const wav2 = join(dir, 'second.wav');
  const corrupt = join(dir, 'corrupt.wav');
  let golden: number[];
  let maxNew: number;

  beforeAll(async () => {
    const dump = await openSafetensorsFile(DUMP);
    const raw = await dump.read('input_samples');
    const samples = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    writeFileSync(wav, makeWav({ format: 3, bits: 32, rate: 16000, channels: 1, samples }));
    writeFileSync(wav2, makeWav({ format: 3, bits: 32, rate: 16000, channels: 1,
      samples: samples.subarray(0, 24000) }));
    writeFileSync(corrupt, Uint8Array.from([0x52, 0x49, 0x46, 0x46, 1, 2, 3]));
    const ids = await dump.read('greedy_ids');
    golden = Array.from(new Int32Array(ids.buffer, ids.byteOffset, ids.byteLength / 4));
    golden = golden.slice(0, -1); // ends on an eos, which the engine does not return
    maxNew = Number(dump.metadata!.max_new_tokens);
    await dump.close();
  });

  it('--format json prints one object per file with the reference greedy ids', () => {
    const r = cli(['transcribe', wav, wav2, '--model', MODEL, '--format', 'json', '--max-new-tokens', String(maxNew),
      '--precision', 'f32', '--segmenter', 'fixed']);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.file)).toEqual([wav, wav2]);
    expect(lines[0].tokens).toEqual(golden);
    expect(typeof lines[0].text).toBe('string');
    expect(lines[0].segments[0]).toMatchObject({ start: 0 });
  });

  it('progress bars only on a terminal: silent when piped, shown under a pseudo-terminal', () => {
    const piped = cli(['transcribe', wav, '--model', MODEL, '--max-new-tokens', '4']);
    expect(piped.stderr).not.toMatch(/\[#*\.*\]/);
    // `script` runs the CLI with a pseudo-terminal on stdin/stdout/stderr.
    const cmd = [process.execPath, '--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'transcribe', wav,
      '--model', MODEL, '--max-new-tokens', '4']
      .map((a) => `'${a}'`).join(' ');
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/load \[[#.]+\]/);
    expect(tty.stdout).toMatch(/generate \[[#.]+\] \d+\/4 tokens/);
    const quiet = spawnSync('script', ['-qec', `${cmd} --quiet`, '/dev/null'],
      { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    expect(quiet.stdout).not.toMatch(/\[[#.]+\]/);
  });

  it('txt and srt formats; a quoted glob is expanded', () => {
    const txt = cli(['transcribe', join(dir, 'ldc*.wav'), '--model', MODEL, '--max-new-tokens', '8']);
    expect(txt.code).toBe(0);
    expect(txt.stdout.trim().length).toBeGreaterThan(0);
    const srt = cli(['transcribe', wav, '--model', MODEL, '--max-new-tokens', '8', '--format', 'srt']);
    expect(srt.stdout).toMatch(/^1\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\n/);
  });

  it('a missing or corrupt file fails with exit 1 and its name, the others are still transcribed', () => {
    const r = cli(['transcribe', join(dir, 'nope.wav'), corrupt, wav, '--model', MODEL,
      '--max-new-tokens', '4', '--format', 'json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nope.wav');
    expect(r.stderr).toContain('corrupt.wav');
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('a bad model folder exits 3; bad usage exits 2', () => {
    const bad = cli(['transcribe', wav, '--model', dir]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/cannot load model/);
    expect(cli(['transcribe', wav]).code).toBe(2);
    expect(cli(['transcribe', wav, '--model', MODEL, '--beams', 'zero']).code).toBe(2);
    expect(cli(['frobnicate']).code).toBe(2);
  });
});
