/**
 * `glm-asr transcribe` with the default VAD segmenter on a long recording (demo samples, 31 s of faint noise between
 * them): one cue / line / JSON object per segment in every format, printed as each segment is finished (the first
 * output comes well before the process ends). The texts are checked in test/segment/transcribe-stream.test.ts; the
 * demo model is sensitive to a chunk's exact edges (here one word of one clip may differ).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/audio';
import { formatTimestamp } from '../../src/formats';
import { makeWav, REPO } from '../audio/helpers';
import { randomF32 } from '../helpers/gpu';

const SAMPLES = join(REPO, 'models', 'demo', 'samples');
const CLIPS = ['digits-oh.wav', 'command-hum.wav', 'command-bandpass.wav'];
const expected: Record<string, string> = JSON.parse(readFileSync(join(SAMPLES, 'expected.json'), 'utf8'));
const ARGS = ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'transcribe'];

describe('CLI output per segment (demo model, vad segmenter)', () => {
  const wav = join(mkdtempSync(join(tmpdir(), 'glm-asr-seg-')), 'long.wav');

  beforeAll(async () => {
    const parts: Float32Array[] = [randomF32(16000, 1, 0.002)]; // faint noise between the utterances
    for (const [i, name] of CLIPS.entries()) {
      const clip = (await decodeAudio(readFileSync(join(SAMPLES, name)), name)).samples;
      parts.push(clip, randomF32(31 * 16000, 2 + i, 0.002));
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

  it('txt, jsonl, srt and vtt: one entry per segment, with the segment times, the same texts in each', () => {
    const lines = run('jsonl').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(CLIPS.length);
    lines.forEach((l, i) => {
      expect(l).toMatchObject({ file: wav, id: i, temperature: 0 });
      expect(l.text.split(' ').length).toBeGreaterThanOrEqual(expected[CLIPS[i]].split(' ').length - 1);
      expect(l.end).toBeGreaterThan(l.start);
      expect(l.avg_logprob).toBeLessThan(0);
      expect(l.no_speech_prob).toBeLessThan(0.5);
    });
    expect(lines[1].start).toBeGreaterThan(31);
    const texts = lines.map((l) => l.text as string);
    expect(run('txt')).toBe(texts.map((t) => `${t}\n`).join(''));
    const srt = run('srt');
    expect(srt.match(/^\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n/gm)).toHaveLength(CLIPS.length);
    const [start, end] = [formatTimestamp(lines[0].start, ','), formatTimestamp(lines[0].end, ',')];
    expect(srt.startsWith(`1\n${start} --> ${end}\n`)).toBe(true);
    expect(srt.split('\n\n').filter((cue) => cue.trim()).map((cue) => cue.split('\n')[2])).toEqual(texts);
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
