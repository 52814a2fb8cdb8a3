/**
 * How well the VAD segmenter's chunk edges match the known utterance times of the long recordings
 * (`npm run make:long-audio`: .cache/long-audio/*.wav with a .json of utterance start / end times beside each).
 * Runs the segmenter exactly as transcription does (Silero VAD, then ChunkPlanner), without the model.
 *
 * For each chunk edge: the start's error is the distance to the nearest utterance start, the end's to the nearest
 * utterance end, in ms: the median and the 95th percentile over all chunks of all files. A chunk may hold several
 * utterances, so only its outer edges are compared (each with the utterance boundary of its own kind nearest to
 * it). The chunks are padded by 300 ms (less in short pauses), so a perfect VAD would give about 300 ms. Also
 * counted: chunk edges inside an utterance (more than 50 ms after its start and before its end), i.e. a cut through
 * speech or speech the VAD missed by more than the padding.
 *
 *   npx tsx bench/boundaries.ts [--max-chunk-seconds S (default 30)] [--json] [MANIFEST]
 *   (MANIFEST: default .cache/long-audio/manifest.json)
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAudio } from '../src/audio/decode';
import { ChunkPlanner, type SpeechChunk } from '../src/models/glm-asr/segments';
import { SileroVad } from '../src/vad';
import { NodeFolderProvider } from '../src/weights/node-file-source';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const SR = 16000;
/** An edge this far inside an utterance counts as a cut through speech (the JSON times are trimmed to ~10 ms). */
const INSIDE_SEC = 0.05;

interface Utterance {
  start: number;
  end: number;
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const nearest = (t: number, times: number[]) => Math.min(...times.map((x) => Math.abs(x - t)));

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const maxChunkSec = Number(option(args, '--max-chunk-seconds') ?? '30');
  const json = args.includes('--json');
  const manifest = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--max-chunk-seconds') ??
    resolve(repoRoot, '.cache/long-audio/manifest.json');
  const entries = JSON.parse(readFileSync(manifest, 'utf8')) as { audio: string }[];
  const vad = await SileroVad.load(new NodeFolderProvider(resolve(repoRoot, 'models/silero-vad-v5')));

  const startErr: number[] = [];
  const endErr: number[] = [];
  let inside = 0;
  let chunks = 0;
  let utterances = 0;
  for (const { audio } of entries) {
    const wav = resolve(dirname(manifest), audio);
    const utts = (JSON.parse(readFileSync(wav.replace(/\.wav$/, '.json'), 'utf8')) as { utterances: Utterance[] })
      .utterances;
    utterances += utts.length;
    const { samples } = await decodeAudio(readFileSync(wav), wav);
    const planner = new ChunkPlanner({ frameSamples: vad.chunkSamples(SR), sampleRate: SR }, { maxChunkSec });
    const out: SpeechChunk[] = [...planner.push(vad.probabilities(samples, SR)), ...planner.finish(samples.length)];
    chunks += out.length;
    for (const c of out) {
      const [s, e] = [c.startSample / SR, c.endSample / SR];
      startErr.push(nearest(s, utts.map((u) => u.start)) * 1000);
      endErr.push(nearest(e, utts.map((u) => u.end)) * 1000);
      for (const t of [s, e]) if (utts.some((u) => t > u.start + INSIDE_SEC && t < u.end - INSIDE_SEC)) inside++;
    }
  }
  startErr.sort((a, b) => a - b);
  endErr.sort((a, b) => a - b);
  const r = {
    maxChunkSec, files: entries.length, utterances, chunks,
    startMedianMs: quantile(startErr, 0.5), startP95Ms: quantile(startErr, 0.95),
    endMedianMs: quantile(endErr, 0.5), endP95Ms: quantile(endErr, 0.95), edgesInsideSpeech: inside,
  };
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  console.log(`${manifest}: ${r.files} files, ${r.utterances} utterances`);
  console.log('| max chunk | chunks | start: median / p95 | end: median / p95 | edges inside an utterance |');
  console.log(`| ${maxChunkSec} s | ${r.chunks} | ${ms(r.startMedianMs)} / ${ms(r.startP95Ms)} | ` +
    `${ms(r.endMedianMs)} / ${ms(r.endP95Ms)} | ${r.edgesInsideSpeech} of ${2 * r.chunks} |`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
