/**
 * Long recordings with the default VAD segmenter (or `--segmenter fixed`) and the demo model: time to first text,
 * total time, and memory. The recording is synthetic: the demo samples in turn, one every `--every` seconds
 * (default 20), the rest faint noise, `--minutes` long (default 10). Memory: the process's resident set after the
 * model is loaded and the PCM is built (`baseline`), and its peak (`maxRSS`) during the transcription; their
 * difference is what transcribing adds on top of the decoded PCM (lavapipe's GPU buffers are host memory too).
 * Run one length per process (the peak is per process). With `node --expose-gc` (NODE_OPTIONS) it also reports the
 * resident set after a collection at the first and at the last segment: what the transcription keeps.
 *
 *   npx tsx bench/segments.ts [--minutes 10] [--every 20] [--segmenter vad|fixed] [--json]
 *   (with the GPU environment: bash scripts/with-gpu-env.sh npx tsx bench/segments.ts …)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAudio } from '../src/audio/decode';
import { GlmAsr } from '../src/models/glm-asr/node';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const SAMPLES = resolve(repoRoot, 'models/demo/samples');

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i < 0 ? fallback : args[i + 1];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const minutes = Number(option(args, '--minutes', '10'));
  const every = Number(option(args, '--every', '20'));
  const segmenter = option(args, '--segmenter', 'vad') as 'vad' | 'fixed';
  if (!(minutes > 0) || !(every >= 3)) throw new Error('--minutes must be > 0 and --every ≥ 3');

  const clips: Float32Array[] = [];
  for (const f of readdirSync(SAMPLES).filter((n) => n.endsWith('.wav')).sort()) {
    clips.push((await decodeAudio(readFileSync(resolve(SAMPLES, f)), f)).samples);
  }
  const sr = 16000;
  const pcm = new Float32Array(Math.round(minutes * 60 * sr));
  let seed = 1;
  for (let i = 0; i < pcm.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    pcm[i] = ((seed / 2 ** 32) - 0.5) * 0.004; // faint noise
  }
  let utterances = 0;
  for (let at = sr; at < pcm.length; at += every * sr) {
    const clip = clips[utterances++ % clips.length];
    pcm.set(clip.subarray(0, Math.min(clip.length, pcm.length - at)), at);
  }

  const asr = await GlmAsr.load('demo', { precision: 'f32' });
  // One short run first: shader compilation and buffer pools are not what this measures.
  await asr.transcribe({ samples: pcm.subarray(0, 5 * sr), sampleRate: sr }, { segmenter });
  const baselineMB = process.memoryUsage().rss / 2 ** 20;

  const t0 = performance.now();
  let firstText = NaN;
  let firstSegment = NaN;
  let segments = 0;
  // With node --expose-gc: the resident set after a collection at the first and the last segment (what is kept,
  // without the garbage a peak includes).
  const gc = (globalThis as { gc?: () => void }).gc;
  let rssFirst = NaN;
  let rssLast = NaN;
  for await (const e of asr.transcribeStream({ samples: pcm, sampleRate: sr }, { segmenter })) {
    if (e.type === 'text' && Number.isNaN(firstText)) firstText = performance.now() - t0;
    if (e.type === 'segment-end') {
      segments++;
      if (Number.isNaN(firstSegment)) firstSegment = performance.now() - t0;
      if (gc) {
        gc();
        const rss = process.memoryUsage().rss / 2 ** 20;
        if (segments === 1) rssFirst = rss;
        rssLast = rss;
      }
    }
  }
  const totalMs = performance.now() - t0;
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  asr.dispose();
  const record = {
    segmenter, minutes, every, utterances, segments,
    firstTextMs: Math.round(firstText), firstSegmentMs: Math.round(firstSegment), totalMs: Math.round(totalMs),
    pcmMB: Math.round(pcm.byteLength / 2 ** 20), baselineRssMB: Math.round(baselineMB), maxRssMB: Math.round(maxRssMB),
    addedMB: Math.round(maxRssMB - baselineMB),
    ...(gc ? { keptFirstSegmentMB: Math.round(rssFirst), keptLastSegmentMB: Math.round(rssLast) } : {}),
  };
  if (args.includes('--json')) console.log(JSON.stringify(record));
  else console.table(record);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
