/**
 * Silero VAD v5 speed on the CPU (one thread): real-time factor of `SileroVad.probabilities` on a corpus clip
 * repeated to `--seconds` (default 60) at 16 kHz and 8 kHz, after `--warmup` runs (default 2); median of `--runs`
 * (default 7). Wall time and this process's CPU time are both timed (one thread: on a shared machine the CPU time is
 * the less disturbed figure). Prints a Markdown table; `--json` prints the records.
 *
 *   npm run bench:vad -- [--seconds 60] [--runs 7] [--warmup 2] [--json]
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAudio } from '../src/audio/decode';
import { resample } from '../src/audio/resample';
import { SileroVad } from '../src/vad';
import { NodeFolderProvider } from '../src/weights/node-file-source';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const CLIP = resolve(repoRoot, '../shared/corpus/audio/en-jfk.wav');

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    throw new Error(`${name} needs a positive number, got ${JSON.stringify(args[i + 1])}`);
  }
  return v;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(args: string[]): Promise<void> {
  const seconds = option(args, '--seconds', 60);
  const runs = option(args, '--runs', 7);
  const warmup = option(args, '--warmup', 2);
  const vad = await SileroVad.load(new NodeFolderProvider(resolve(repoRoot, 'models/silero-vad-v5')));
  const clip = (await decodeAudio(readFileSync(CLIP), CLIP)).samples;
  const records = [];
  for (const rate of [16000, 8000]) {
    const one = rate === 16000 ? clip : resample(clip, 16000, rate);
    const audio = new Float32Array(Math.round(seconds * rate));
    for (let i = 0; i < audio.length; i += one.length) {
      audio.set(one.subarray(0, Math.min(one.length, audio.length - i)), i);
    }
    for (let i = 0; i < warmup; i++) vad.probabilities(audio, rate);
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < runs; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      vad.probabilities(audio, rate);
      wall.push((performance.now() - t0) / 1000);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1e6);
    }
    const med = median(wall);
    const medCpu = median(cpu);
    records.push({
      rate,
      audioSeconds: seconds,
      runs,
      warmup,
      medianSeconds: med,
      medianCpuSeconds: medCpu,
      realTimeFactor: seconds / med,
      realTimeFactorCpu: seconds / medCpu,
      chunks: Math.ceil(audio.length / vad.chunkSamples(rate)),
    });
  }
  if (args.includes('--json')) {
    console.log(JSON.stringify(records, null, 2));
    return;
  }
  console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} (one thread), Node ${process.version}`);
  console.log(
    '| rate | audio | warm-up | runs | median wall | × real time (wall) | median CPU | × real time (CPU) | ' +
      'CPU µs per chunk |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of records) {
    const perChunk = (r.medianCpuSeconds / r.chunks) * 1e6;
    console.log(
      `| ${r.rate / 1000} kHz | ${r.audioSeconds} s | ${r.warmup} | ${r.runs} | ` +
        `${(r.medianSeconds * 1000).toFixed(0)} ms | ${r.realTimeFactor.toFixed(0)}× | ` +
        `${(r.medianCpuSeconds * 1000).toFixed(0)} ms | ${r.realTimeFactorCpu.toFixed(0)}× | ${perChunk.toFixed(0)} |`,
    );
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
