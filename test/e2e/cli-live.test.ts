/**
 * `glm-asr transcribe -` / `glm-asr listen`: audio piped into the CLI as it would come from a microphone (a Node
 * writer sends 40 ms pieces on a timer, cut at odd byte counts), transcribed by the demo model as it arrives. Two
 * bundled demo clips with a second of silence between them make two utterances; each must come out as a final
 * with its clip's text. Also: raw s16le, WAV streams at 24 and 48 kHz (stereo mixed down), the sox pipeline from
 * the docs, partial text (jsonl lines; in place on a pseudo-terminal), Ctrl-C while stdin is still open, and bad
 * stdin and bad usage answered with one line.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWav } from '../../src/audio/wav';
import { transcriptionArgs, UsageError } from '../../src/cli/common';
import { LIVE_OPTIONS, stdinArgs } from '../../src/cli/live';
import { hasCommand, makeWav, REPO } from '../audio/helpers';

const SAMPLES = join(REPO, 'models/demo/samples');
const CLIPS = ['command-bandpass.wav', 'digits-oh.wav'];
const expected: Record<string, string> = JSON.parse(readFileSync(join(SAMPLES, 'expected.json'), 'utf8'));
const TEXTS = CLIPS.map((c) => expected[c]);
const MAIN = join(REPO, 'src/cli/main.ts');
const NO_MODEL = '/nonexistent/glm-asr-model';
const FORMATS = ['txt', 'json', 'jsonl', 'srt', 'vtt'] as const;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The CLI's own lines on stderr (Dawn prints its warnings there too). */
const ownLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('glm-asr:'));

interface Feed {
  /** Pace: 40 ms pieces (odd and even sizes in turn, so that samples are split across reads); all at once without. */
  bytesPerSecond?: number;
  /**
   * Stop writing at byte `at` until stdout matches `until` (at most 30 s): partial text comes only when the session
   * has caught up with its input, which a busy machine may never let happen at real-time pace.
   */
  pause?: { at: number; until: RegExp };
  /** Leave the input open after the last piece and send SIGINT (Ctrl-C) once stdout holds that many lines. */
  interrupt?: number;
  /** Write into this FIFO (the command reads it) instead of the process's stdin. */
  fifo?: string;
}

/** Runs the CLI with `input` fed to its stdin. */
function runPiped(args: string[], input: Uint8Array, feed: Feed = {}): Promise<Run> {
  return run(process.execPath, ['--import', 'tsx', MAIN, ...args], input, feed);
}

/** A shell pipeline (bash, or `script` for a pseudo-terminal). */
function shell(file: 'bash' | 'script', command: string, input = new Uint8Array(0), feed: Feed = {}): Promise<Run> {
  const args = file === 'bash' ? ['-o', 'pipefail', '-c', command] : ['-qec', command, '/dev/null'];
  return run(file, args, input, feed);
}

/** Never spawnSync: a blocked event loop would stall the writer. */
function run(file: string, args: string[], input: Uint8Array, feed: Feed): Promise<Run> {
  return new Promise<Run>((resolve) => {
    const p = spawn(file, args, { cwd: REPO });
    const sink = feed.fifo ? createWriteStream(feed.fifo) : p.stdin;
    let stdout = '';
    let stderr = '';
    let written = false;
    let pausedSince = 0;
    const maybeInterrupt = () => {
      if (feed.interrupt === undefined || !written || stdout.split('\n').length <= feed.interrupt) return;
      feed = { ...feed, interrupt: undefined };
      p.kill('SIGINT');
    };
    p.stdout.on('data', (d) => {
      stdout += d;
      maybeInterrupt();
    });
    p.stderr.on('data', (d) => (stderr += d));
    sink.on('error', () => {}); // a CLI that exits early (bad input) closes the pipe
    const timer = setTimeout(() => p.kill('SIGKILL'), 90_000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(pacer);
      resolve({ code, signal, stdout, stderr });
    });
    let at = 0;
    let odd = 1;
    const piece = feed.bytesPerSecond ? Math.round(feed.bytesPerSecond * 0.04) & ~1 : input.length;
    const pacer = setInterval(() => {
      if (feed.pause && at >= feed.pause.at) {
        pausedSince ||= Date.now();
        if (!feed.pause.until.test(stdout) && Date.now() - pausedSince < 30_000) return;
        feed = { ...feed, pause: undefined };
      }
      if (at >= input.length) {
        clearInterval(pacer);
        written = true;
        if (feed.interrupt === undefined) sink.end();
        maybeInterrupt();
        return;
      }
      const n = Math.max(1, Math.min(input.length - at, piece + (odd = -odd)));
      sink.write(input.subarray(at, at + n));
      at += n;
    }, feed.bytesPerSecond ? 40 : 0);
  });
}

/** A deterministic pseudo-random generator in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** 16-bit words of `x` (full scale ±1), interleaved over `channels` copies. */
function s16(x: Float32Array, channels = 1): Int16Array {
  const out = new Int16Array(x.length * channels);
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.max(-32768, Math.min(32767, Math.round(x[Math.floor(i / channels)] * 32768)));
  }
  return out;
}

describe('glm-asr transcribe - (live from stdin)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glm-asr-live-'));
  const pairWav = join(dir, 'pair.wav');
  let pair: Float32Array;
  let lens: number[]; // the clips' seconds
  let inClip2: number; // a sample three quarters into clip 2, where the writer waits for partial text
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(() => {
    // 0.3 s of silence, clip 1, 1 s of silence, clip 2 (no silence after it: only the end of input ends it).
    const clips = CLIPS.map((c) => parseWav(readFileSync(join(SAMPLES, c)), c).channels[0]);
    lens = clips.map((c) => c.length / 16000);
    inClip2 = 4800 + clips[0].length + 16000 + Math.round(0.75 * clips[1].length);
    pair = new Float32Array(4800 + clips[0].length + 16000 + clips[1].length);
    pair.set(clips[0], 4800);
    pair.set(clips[1], 4800 + clips[0].length + 16000);
    writeFileSync(pairWav, makeWav({ format: 1, bits: 16, rate: 16000, channels: 1, samples: s16(pair) }));
  });

  const finals = (stdout: string) => stdout.trim().split('\n');

  it('raw s16le at 16 kHz, real-time pace, --live --format jsonl: partial lines, then each final with its times',
    async () => {
      const bytes = new Uint8Array(s16(pair).buffer);
      const r = await runPiped(['transcribe', '-', '--model', 'demo', '--raw', 's16le', '--rate', '16000', '--live',
        '--format', 'jsonl', '--partial-interval-ms', '200', '--quiet'], bytes,
      { bytesPerSecond: 32000, pause: { at: 2 * inClip2, until: /"type":"partial"/ } });
      expect(ownLines(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      const out = lines.filter((l) => l.type !== 'partial');
      expect(out.map((l) => l.text)).toEqual(TEXTS);
      expect(out.map((l) => l.id)).toEqual([0, 1]);
      expect(out[0]).toMatchObject({ file: '-' });
      // Times from the stream's start: clip 1 is 0.3 s to 0.3 + lens[0], clip 2 starts a second later and runs to
      // the end of the input, which ends its utterance.
      const clip2 = 1.3 + lens[0];
      expect(out[0].start).toBeLessThan(0.3 + lens[0] / 2);
      expect(out[0].end).toBeGreaterThan(0.3 + lens[0] - 0.2);
      expect(out[0].end).toBeLessThan(clip2);
      expect(out[1].start).toBeGreaterThan(out[0].end);
      expect(out[1].start).toBeLessThan(clip2 + lens[1] / 2);
      expect(out[1].end).toBeCloseTo(clip2 + lens[1], 2);
      const partials = lines.filter((l) => l.type === 'partial');
      expect(partials.length).toBeGreaterThan(0);
      expect(partials[0]).toEqual({ file: '-', type: 'partial', item: partials[0].item, text: expect.any(String) });
      // A partial comes before the final of its utterance.
      const firstFinal = lines.findIndex((l) => l.type !== 'partial' && l.id === partials[0].item);
      expect(lines.indexOf(partials[0])).toBeLessThan(firstFinal);
    }, 120_000);

  it('a 48 kHz stereo WAV stream (data size 0xFFFFFFFF), Ctrl-C with stdin still open: the pending final, exit 0',
    async () => {
      const up = new Float32Array(pair.length * 3); // 16 → 48 kHz by repeating samples: the clips stay recognisable
      for (let i = 0; i < up.length; i++) up[i] = pair[Math.floor(i / 3)];
      const wav = makeWav({ format: 1, bits: 16, rate: 48000, channels: 2, samples: s16(up, 2),
        dataSize: 0xffffffff, riffSize: 0xffffffff });
      const r = await runPiped(['transcribe', '-', '--model', 'demo', '--quiet'], wav,
        { bytesPerSecond: 48000 * 4, interrupt: 1 });
      expect(r.signal).toBeNull();
      expect(ownLines(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
      expect(finals(r.stdout)).toEqual(TEXTS);
    }, 120_000);

  it('a source far faster than real time (75 s of faint noise, then clip 1, written at once) is read only as fast as '
    + 'the session keeps up', async () => {
      // The session refuses more than 60 s of waiting audio: the CLI must stop reading stdin while it catches up.
      const noise = new Float32Array(75 * 16000 + Math.round(lens[0] * 16000));
      const r1 = rng(1);
      for (let i = 0; i < 75 * 16000; i++) noise[i] = (r1() - 0.5) / 500;
      noise.set(pair.subarray(4800, 4800 + Math.round(lens[0] * 16000)), 75 * 16000);
      const r = await runPiped(['transcribe', '-', '--model', 'demo', '--raw', 's16le', '--rate', '16000', '--quiet'],
        new Uint8Array(s16(noise).buffer));
      expect(ownLines(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
      expect(finals(r.stdout)).toEqual([TEXTS[0]]);
    }, 120_000);

  it('sox FILE -r 24000 -t wav - | glm-asr listen --format vtt: cues of the finals only, stdout not a terminal',
    async () => {
      const cmd = `sox '${pairWav}' -r 24000 -t wav - | '${process.execPath}' --import tsx '${MAIN}' listen ` +
        '--model demo --quiet --format vtt';
      const r = await shell('bash', cmd);
      expect(ownLines(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain('\r');
      const cue = '\\d\\d:\\d\\d:\\d\\d\\.\\d{3} --> \\d\\d:\\d\\d:\\d\\d\\.\\d{3}';
      expect(r.stdout).toMatch(new RegExp(`^WEBVTT\\n\\n${cue}\\n${TEXTS[0]}\\n\\n${cue}\\n${TEXTS[1]}\\n\\n$`));
    }, 120_000);

  it('ffmpeg -i FILE -f s16le -ac 1 -ar 16000 - | glm-asr transcribe - --raw s16le --rate 16000', async (ctx) => {
    if (!hasCommand('ffmpeg')) ctx.skip('ffmpeg is not installed');
    const cmd = `ffmpeg -loglevel error -i '${pairWav}' -f s16le -ac 1 -ar 16000 - | '${process.execPath}' ` +
      `--import tsx '${MAIN}' transcribe - --raw s16le --rate 16000 --model demo --quiet`;
    const r = await shell('bash', cmd);
    expect(r.code).toBe(0);
    expect(finals(r.stdout)).toEqual(TEXTS);
  }, 120_000);

  it('on a terminal, listen shows the partial text in place (carriage return, clear line) and keeps the finals',
    async () => {
      // A partial: text drawn on a cleared line, then cleared again (a final ends with a newline instead).
      const PARTIAL = /\r\x1b\[2K[a-z][^\r\n]*\r\x1b\[2K/;
      // The CLI's stdout is the pseudo-terminal of `script`; its stdin a FIFO that the WAV stream is paced into.
      const fifo = join(dir, 'tty.fifo');
      execFileSync('mkfifo', [fifo]);
      const cmd = `'${process.execPath}' --import tsx '${MAIN}' listen --model demo --quiet ` +
        `--partial-interval-ms 200 < '${fifo}'`;
      const r = await shell('script', cmd, readFileSync(pairWav),
        { bytesPerSecond: 32000, pause: { at: 44 + 2 * inClip2, until: /\r\x1b\[2K[a-z]/ }, fifo });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(PARTIAL);
      // What stays on the screen: each final on its own line, the partials cleared.
      const screen = r.stdout.replace(/\r\n/g, '\n').split('\n')
        .map((l) => l.split('\r').pop()!.replace(/\x1b\[2K/g, '').trim())
        .filter((l) => l && !l.startsWith('Warning'));
      expect(screen).toEqual(TEXTS);
    }, 120_000);

  it('bad stdin (garbage, a header cut short, an MP3): exit 1; an option the model refuses: exit 2; one line each',
    async () => {
    const garbage = Uint8Array.from({ length: 300 }, (_, i) => (i * 97 + 13) & 0xff);
    const head = readFileSync(pairWav).subarray(0, 30);
    const mp3 = Uint8Array.of(0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0, 0xff, 0xfb, 0x90, 0x64, 0, 0);
    const args = ['transcribe', '-', '--model', 'demo', '--quiet'];
    const [g, h, m, o] = await Promise.all([runPiped(args, garbage), runPiped(args, head), runPiped(args, mp3),
      runPiped([...args, '--max-chunk-seconds', '31'], readFileSync(pairWav))]);
    const hint = ' (pipe a WAV stream, e.g. sox ... -t wav -, or raw PCM with --raw s16le|f32le --rate HZ)';
    const start = "'\\x0dn\\xcf0'";
    expect(ownLines(g.stderr)).toEqual([`glm-asr: stdin: not a RIFF file: starts with ${start} at byte 0${hint}`]);
    expect(ownLines(h.stderr)).toEqual([`glm-asr: stdin: ended after 30 bytes, inside the WAV header${hint}`]);
    expect(ownLines(m.stderr)).toEqual([`glm-asr: stdin: is MP3 audio, not a WAV stream or raw PCM${hint}`]);
    for (const r of [g, h, m]) {
      expect(r.stdout).toBe('');
      expect(r.code).toBe(1);
    }
    // The live session's bound is the model's window, known once it is loaded.
    expect(ownLines(o.stderr)).toEqual(
      ['glm-asr: --max-chunk-seconds: maxUtteranceSeconds must be a number in [2, 30], got 31']);
    expect(o.code).toBe(2);
  }, 120_000);
});

describe.concurrent('glm-asr transcribe - usage errors: exit 2, one line, before loading', () => {
  it('a process: --raw without --rate', async () => {
    const r = await runPiped(['transcribe', '-', '--raw', 's16le', '--model', NO_MODEL], new Uint8Array(0));
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr.trim().split('\n')).toEqual(
      ['glm-asr: --raw needs --rate HZ, the sample rate of the stream (glm-asr --help shows the usage)']);
    expect(r.code).toBe(2);
  });

  it('stdin on a terminal is refused with an example', async () => {
    const cmd = `'${process.execPath}' --import tsx '${MAIN}' listen --model ${NO_MODEL}`;
    const r = await shell('script', cmd);
    expect(r.stdout).toMatch(/glm-asr: standard input is a terminal: pipe audio into it, e\.g\. sox -d -t wav -/);
    expect(r.code).toBe(2);
  });

  // The same checks in this process (main.ts turns a UsageError into the line and exit 2, as above).
  const cases: [string[], RegExp][] = [
    [['transcribe', '-', '--raw', 's24le', '--rate', '16000'], /^--raw must be one of s16le, f32le, got "s24le"$/],
    [['transcribe', '-', '--raw', 's16le', '--rate', '100'], /^--rate must be an integer from 1000 to 768000/],
    [['transcribe', '-', '--raw', 'f32le', '--rate', '8000', '--channels', '0'], /^--channels must be an integer/],
    [['transcribe', '-', '--rate', '16000'], /^--rate goes with --raw/],
    [['transcribe', '-', '--channels', '2'], /^--channels goes with --raw/],
    [['transcribe', '-', 'clip.wav'], /^standard input \(-\) is read alone: no files with it, got - clip.wav$/],
    [['transcribe', 'clip.wav', '--live'], /^--live goes with - \(audio from standard input\)$/],
    [['transcribe', 'clip.wav', '--raw', 's16le'], /^--raw goes with - \(audio from standard input\)$/],
    [['transcribe', '-', '--vad-threshold', '2'], /^--vad-threshold must be a number from 0.05 to 1, got "2"$/],
    [['transcribe', '-', '--silence-ms', '20000'], /^--silence-ms must be an integer from 0 to 10000, got "20000"$/],
    [['transcribe', '-', '--silence-ms', '100', '--segmenter', 'fixed'], /^--silence-ms goes with --segmenter vad$/],
    [['transcribe', '-', '--partial-interval-ms', '100'], /^--partial-interval-ms goes with --live$/],
    [['listen', 'clip.wav'], /^standard input \(-\) is read alone/],
  ];
  it.each(cases)('%j', ([command, ...args], message) => {
    const parsed = transcriptionArgs([...args, '--model', NO_MODEL], FORMATS, LIVE_OPTIONS);
    expect(() => stdinArgs(parsed, command === 'listen', { stdin: false, stdout: false })).toThrow(message);
    expect(() => stdinArgs(parsed, command === 'listen', { stdin: false, stdout: false })).toThrow(UsageError);
  });

  it('what the session gets: jsonl partials with --live, none decoded into a pipe; fixed: no VAD turns', () => {
    const args = (...a: string[]) => transcriptionArgs([...a, '--model', NO_MODEL], FORMATS, LIVE_OPTIONS);
    const pipe = { stdin: false, stdout: false };
    expect(stdinArgs(args('-', '--live', '--format', 'jsonl', '--partial-interval-ms', '200', '--beams', '2',
      '--silence-ms', '300', '--raw', 'f32le', '--rate', '48000', '--channels', '2'), false, pipe)).toEqual({
      raw: { encoding: 'f32le', sampleRate: 48000, channels: 2 },
      display: 'jsonl',
      session: { turnDetection: { threshold: undefined, silenceDurationMs: 300, prefixPaddingMs: undefined },
        partialIntervalMs: 200, maxUtteranceSeconds: undefined, beams: 2, maxNewTokens: 500, name: 'stdin' },
    });
    expect(stdinArgs(args(), true, pipe)).toMatchObject({ display: 'none', session: { partialIntervalMs: 0 } });
    expect(stdinArgs(args(), true, { stdin: false, stdout: true }))
      .toMatchObject({ display: 'terminal', session: { partialIntervalMs: undefined } });
    expect(stdinArgs(args('-', '--segmenter', 'fixed', '--max-chunk-seconds', '5'), false, pipe))
      .toMatchObject({ session: { turnDetection: null, maxUtteranceSeconds: 5 } });
    expect(stdinArgs(args('clip.wav'), false, pipe)).toBeNull();
  });
});
