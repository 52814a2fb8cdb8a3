/**
 * `glm-asr transcribe` with the default VAD segmenter on a long recording (demo samples with 31 s pauses): one cue /
 * line / JSON object per segment in every format, printed as each segment is finished (the first output comes well
 * before the process ends).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/audio';
import { makeWav, REPO } from '../audio/helpers';

const SAMPLES = join(REPO, 'models', 'demo', 'samples');
const CLIPS = ['digits-oh.wav', 'command-hum.wav', 'command-bandpass.wav'];
const expected: Record<string, string> = JSON.parse(readFileSync(join(SAMPLES, 'expected.json'), 'utf8'));
const ARGS = ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'transcribe'];

describe('CLI output per segment (demo model, vad segmenter)', () => {
  const wav = join(mkdtempSync(join(tmpdir(), 'glm-asr-seg-')), 'long.wav');

  beforeAll(async () => {
    const parts: Float32Array[] = [new Float32Array(16000)];
    for (const name of CLIPS) {
      parts.push((await decodeAudio(readFileSync(join(SAMPLES, name)), name)).samples, new Float32Array(31 * 16000));
    }
    const samples = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (samples.set(p, at), at + p.length), 0);
    writeFileSync(wav, makeWav({ format: 3, bits: 32, rate: 16000, channels: 1, samples }));
  });

  const run = (format: string) => {
    const r = spawnSync(process.execPath, [...ARGS, wav, '--model', 'demo', '--format', format, '--quiet'],
      { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };

  it('txt, jsonl, srt and vtt: one entry per segment, with the segment times', () => {
    expect(run('txt')).toBe(CLIPS.map((c) => `${expected[c]}\n`).join(''));
    const lines = run('jsonl').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.text)).toEqual(CLIPS.map((c) => expected[c]));
    lines.forEach((l, i) => {
      expect(l).toMatchObject({ file: wav, id: i, temperature: 0 });
      expect(l.end).toBeGreaterThan(l.start);
      expect(l.avg_logprob).toBeLessThan(0);
      expect(l.no_speech_prob).toBeLessThan(0.5);
    });
    expect(lines[1].start).toBeGreaterThan(31);
    const srt = run('srt');
    expect(srt.match(/^\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n/gm)).toHaveLength(CLIPS.length);
    expect(srt).toMatch(/^1\n00:00:0[01],\d{3} --> 00:00:0\d,\d{3}\nfour seven two oh six three\n\n2\n00:00:3\d/);
    const vtt = run('vtt');
    expect(vtt.startsWith('WEBVTT\n\n')).toBe(true);
    expect(vtt.match(/ --> /g)).toHaveLength(CLIPS.length);
  });

  it('prints the first segment before the process ends', async () => {
    const child = spawn(process.execPath, [...ARGS, wav, '--model', 'demo', '--quiet'], { cwd: REPO });
    const t0 = Date.now();
    let first = 0;
    child.stdout.once('data', () => (first = Date.now() - t0));
    const end = await new Promise<number>((resolve) => child.on('close', () => resolve(Date.now() - t0)));
    expect(first).toBeGreaterThan(0);
    // Measured: the first segment 7 s before the end (two more to decode); printed only at the end: 0.2 s before.
    expect(end - first).toBeGreaterThan(1000);
  });
});
