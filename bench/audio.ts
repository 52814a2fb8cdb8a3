/**
 * Audio front-end timings on the CPU: decode + mono mix + resample of corpus clips, resampling of
 * long synthetic input, and the log-mel of one 30 s window.
 *
 *   npx tsx bench/audio.ts [--runs N]
 *
 * Each figure is the median of N runs (default 9) after 2 warm-up runs; wall time, and the CPU time
 * of this process (less sensitive to other jobs on a shared machine). Corpus rows need ../shared.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAudio, decodeWithAudioDecode, downmixToMono } from '../src/audio/decode';
import { sniffContainer } from '../src/audio/probe';
import { LogMelSpectrogram } from '../src/audio/mel';
import { Resampler, getResampler } from '../src/audio/resample';
import { parseWav, type PcmAudio } from '../src/audio/wav';
import { splitWindows } from '../src/audio/windows';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 9;
const WARMUP = 2;
const AUDIO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'corpus', 'audio');

/** Median wall time and median CPU time (user + system of this process) over RUNS runs after warm-up. */
async function median(fn: () => unknown): Promise<{ med: number; cpu: number; first: number }> {
  const t0 = performance.now();
  await fn();
  const first = performance.now() - t0;
  for (let i = 1; i < WARMUP; i++) await fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  const mid = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return { med: mid(wall), cpu: mid(cpu), first };
}

const rows: string[][] = [];
const row = (...cells: (string | number)[]) => rows.push(cells.map(String));
const ms = (v: number) => v.toFixed(1);

console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length} logical; load average ` +
  `${loadavg()[0].toFixed(2)}; Node ${process.version}; ${RUNS} runs after ${WARMUP} warm-up`);

// ------------------------------------------------------------------ corpus clips
const clips = ['en-jfk.wav', 'en-jfk-44k-stereo-24bit.flac', 'en-jfk.mp3', 'yue-wenetspeech-yue-48k-stereo.wav',
  'en-ldc93s1-8k.wav'];
if (existsSync(AUDIO)) {
  const quiet = console.error;
  for (const f of clips) {
    const bytes = new Uint8Array(readFileSync(join(AUDIO, f)));
    const container = sniffContainer(bytes)!;
    let pcm: PcmAudio | undefined;
    console.error = () => undefined;
    const dec = await median(async () => {
      pcm = container === 'wav' ? parseWav(bytes, f) : await decodeWithAudioDecode(bytes, f);
    });
    const mix = await median(() => getResampler(pcm!.sampleRate, 16000).process(downmixToMono(pcm!.channels)));
    const total = await median(() => decodeAudio(bytes, f));
    console.error = quiet;
    const secs = pcm!.channels[0].length / pcm!.sampleRate;
    row(f, `${container} ${pcm!.sampleRate / 1000}k×${pcm!.channels.length}`, secs.toFixed(2), ms(dec.med), ms(mix.med),
      ms(total.med), ms(total.cpu), `${Math.round((secs * 1000) / total.med)}×`);
  }
} else {
  console.log(`(corpus not found at ${AUDIO}: corpus rows skipped)`);
}

// ------------------------------------------------------------------ synthetic long input
for (const [rate, ch] of [[48000, 2], [44100, 2], [8000, 1]] as const) {
  const n = rate * 60;
  const chans = Array.from({ length: ch }, (_, c) => Float32Array.from({ length: n },
    (_, i) => 0.3 * Math.sin((2 * Math.PI * (440 + 220 * c) * i) / rate)));
  const r = new Resampler(rate, 16000);
  const t = await median(() => r.process(downmixToMono(chans)));
  row(`synthetic 60 s`, `f32 ${rate / 1000}k×${ch}`, '60.00', '—', ms(t.med), ms(t.med), ms(t.cpu),
    `${Math.round(60000 / t.med)}×`);
}

// ------------------------------------------------------------------ log-mel
const mel = new LogMelSpectrogram();
let window: Float32Array = new Float32Array(480_000);
if (existsSync(AUDIO)) {
  const jfk = await decodeAudio(new Uint8Array(readFileSync(join(AUDIO, 'en-jfk.wav'))), 'en-jfk.wav');
  window = splitWindows(jfk.samples)[0].samples;
} else {
  for (let i = 0; i < window.length; i++) window[i] = 0.1 * Math.sin(i / 13) + 0.01 * Math.sin(i / 3.1);
}
const out = new Float32Array(128 * 3000);
const m = await median(() => mel.compute(window, out));
const table = [['input', 'format', 'audio s', 'decode ms', 'mix+resample ms', 'total ms', 'total CPU ms', 'realtime'],
  ...rows];
const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
for (const [i, r] of table.entries()) {
  console.log(r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
console.log(`\nlog-mel 128×3000 of one 30 s window: median ${ms(m.med)} ms wall, ${ms(m.cpu)} ms CPU (first call, ` +
  `cold JIT: ${ms(m.first)} ms)`);
