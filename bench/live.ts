/**
 * Live transcription benchmark (docs/live.md, docs/benchmarks.md "Live transcription"): a recording of the long-audio
 * set (.cache/long-audio, `npm run make:long-audio`; its .json gives each utterance's times and text) streamed into
 * one `asr.live` session as 16-bit PCM at `--rate`, in two phases:
 *
 * 1. real time: the first `--realtime-seconds` pushed in `--chunk-ms` chunks at the pace of the audio (chunk i at
 *    t0 + i · chunk). Latency of each final from the end of its speech: the wall time of its final event less the
 *    wall time of the push holding its last utterance's end sample (so it includes silenceDurationMs, the quiet time
 *    that ends a turn), and from the speech-stopped event. Partials: the time between an item's consecutive
 *    partial events, and partial decodes per second of speech.
 * 1b. partial cadence: the first `--partial-seconds` at the pace of the audio into a session with manual turns and a
 *    30 s utterance cap, never committed, so one utterance grows and only partials run; the interval between
 *    partial decodes (stats.partials polled at every push) shows the cap: max(partialIntervalMs, decode time).
 * 2. sustained: the first `--stream-seconds` pushed as fast as the session takes them: each 100 ms chunk at once,
 *    pausing on `drained()` whenever 10 s wait. Real-time factor = wall time / audio time, overall and per minute
 *    of audio; host RSS and the GPU pool's bytes at the start and end; the most samples the session held; the word
 *    error rate of the finals against the recording's texts.
 *
 *   npm run -s bench:live -- [--model demo|DIR] [--encoder-layers N] [--decoder-layers N] [--audio WAV]
 *                            [--realtime-seconds 90] [--partial-seconds 20] [--stream-seconds 600]
 *                            [--rate 24000] [--chunk-ms 40] [--partial-ms 500] [--max-new-tokens N] [--json]
 *
 * A DIR with --encoder-layers/--decoder-layers loads only those layers (bench/model/checkpoint.ts, as the model
 * benchmark does, eos disabled: give --max-new-tokens); `--realtime-seconds 0` skips phase 1.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAudio, getResampler } from '../src/audio';
import { errors, score } from '../src/eval/wer';
import type { LiveEvent, LiveOptions, LiveSession } from '../src/models/glm-asr/live';
import { GlmAsr, shippedVadFolder } from '../src/models/glm-asr/node';
import { GlmAsr as Engine, type Segment } from '../src/models/glm-asr/transcriber';
import { NodeFolderProvider } from '../src/weights/node-file-source';
import { adapterName } from './lib';
import { modelProvider } from './model/checkpoint';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const RATE = 16000;
/** Sustained phase: chunk pushed at once, and the backlog at which it waits for the session. */
const STREAM_CHUNK_S = 0.1;
const STREAM_BACKLOG_S = 10;

interface Utterance {
  text: string;
  start: number;
  end: number;
}

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i < 0 ? fallback : args[i + 1];
}

function numberOption(args: string[], name: string, fallback: number | undefined): number | undefined {
  const v = option(args, name, fallback === undefined ? '' : String(fallback));
  if (v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} needs a number ≥ 0, got ${JSON.stringify(v)}`);
  return n;
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const mib = (b: number) => Math.round(b / 2 ** 20);

async function loadModel(args: string[]): Promise<{ asr: Engine; label: string }> {
  const model = option(args, '--model', 'demo');
  const enc = numberOption(args, '--encoder-layers', undefined);
  const dec = numberOption(args, '--decoder-layers', undefined);
  if (model === 'demo') return { asr: await GlmAsr.load('demo', { precision: 'f32' }), label: 'demo (f32)' };
  const { provider, full, use } = await modelProvider(model, enc, dec);
  const asr = await Engine.load(provider, { precision: 'f32', vad: new NodeFolderProvider(shippedVadFolder()) });
  const depth = `encoder ${use.encoder}/${full.encoder}, decoder ${use.decoder}/${full.decoder}`;
  return { asr, label: `${model} (f32, ${depth})` };
}

/** Pushes `pcm` in pieces of `chunkMs` at the pace of the audio, calling `afterPush` after each; returns the piece
 * length in samples. */
async function pushAtPace(live: LiveSession, pcm: Int16Array, rate: number, chunkMs: number, afterPush: () => void) {
  const chunk = Math.round((chunkMs / 1000) * rate);
  const t0 = performance.now();
  for (let i = 0; i * chunk < pcm.length; i++) {
    await sleep(t0 + i * chunkMs - performance.now());
    live.push(pcm.subarray(i * chunk, (i + 1) * chunk));
    afterPush();
  }
  return chunk;
}

/** Phase 1: pushed at the pace of the audio; every event's wall time kept. */
async function realTime(asr: Engine, pcm: Int16Array, rate: number, chunkMs: number, options: LiveOptions,
  utterances: Utterance[]) {
  const live = asr.live({ ...options, sampleRate: rate });
  const events: { e: LiveEvent; t: number }[] = [];
  const reader = (async () => {
    for await (const e of live) events.push({ e, t: performance.now() });
  })();
  const pushedAt: number[] = [];
  const chunk = await pushAtPace(live, pcm, rate, chunkMs, () => pushedAt.push(performance.now()));
  await live.close();
  await reader;
  const stopped = new Map(events.flatMap(({ e, t }) => (e.type === 'speech-stopped' ? [[e.item, t] as const] : [])));
  const fromSpeech: number[] = [];
  const fromStopped: number[] = [];
  for (const { e, t } of events) {
    if (e.type !== 'final') continue;
    const seg = e.segment;
    // The last utterance ending inside this final's audio: its end sample came in push ⌊end · rate / chunk⌋.
    const ends = utterances.filter((u) => u.end > seg.start && u.end <= seg.end).map((u) => u.end);
    const last = Math.floor((Math.max(...ends) * rate) / chunk);
    if (ends.length) fromSpeech.push(t - pushedAt[Math.min(pushedAt.length - 1, last)]);
    if (stopped.has(e.item)) fromStopped.push(t - stopped.get(e.item)!);
  }
  const partialGaps: number[] = [];
  const lastPartial = new Map<number, number>();
  for (const { e, t } of events) {
    if (e.type !== 'partial') continue;
    if (lastPartial.has(e.item)) partialGaps.push(t - lastPartial.get(e.item)!);
    lastPartial.set(e.item, t);
  }
  const speechSeconds = events.reduce((s, { e }) => s + (e.type === 'committed' ? e.end - e.start : 0), 0);
  return {
    audioSeconds: pcm.length / rate,
    finals: events.filter(({ e }) => e.type === 'final').length,
    latencyFromSpeechEndMs: { p50: quantile(fromSpeech, 0.5), p95: quantile(fromSpeech, 0.95), n: fromSpeech.length },
    latencyFromSpeechStoppedMs: { p50: quantile(fromStopped, 0.5), p95: quantile(fromStopped, 0.95) },
    partialEvents: events.filter(({ e }) => e.type === 'partial').length,
    partialIntervalMs: { p50: quantile(partialGaps, 0.5), p95: quantile(partialGaps, 0.95), n: partialGaps.length },
    partialDecodesPerSpeechSecond: live.stats!.partials / Math.max(1e-9, speechSeconds),
  };
}

/** Phase 1b: one growing utterance at the pace of the audio; when each partial decode finished. */
async function partialCadence(asr: Engine, pcm: Int16Array, rate: number, chunkMs: number, options: LiveOptions) {
  const live = asr.live({ ...options, sampleRate: rate, turnDetection: null, maxUtteranceSeconds: 30 });
  let events = 0;
  const reader = (async () => {
    for await (const e of live) if (e.type === 'partial') events++;
  })();
  const decodedAt: number[] = [];
  await pushAtPace(live, pcm, rate, chunkMs, () => {
    if (live.stats!.partials > decodedAt.length) decodedAt.push(performance.now());
  });
  live.abort();
  await reader;
  const gaps = decodedAt.slice(1).map((t, i) => t - decodedAt[i]);
  return { audioSeconds: pcm.length / rate, decodes: decodedAt.length, partialEvents: events,
    decodeIntervalMs: { p50: quantile(gaps, 0.5), p95: quantile(gaps, 0.95), n: gaps.length } };
}

/** Phase 2: pushed as fast as the session takes it; wall time per audio minute, memory at both ends. */
async function sustained(asr: Engine, pcm: Int16Array, rate: number, options: LiveOptions, utterances: Utterance[]) {
  const rssStart = process.memoryUsage().rss;
  const poolStart = asr.gpu.pool.stats.liveBytes;
  const live = asr.live({ ...options, sampleRate: rate });
  const finals: Segment[] = [];
  let partialEvents = 0;
  const reader = (async () => {
    for await (const e of live) {
      if (e.type === 'final') finals.push(e.segment);
      if (e.type === 'partial') partialEvents++;
    }
  })();
  const chunk = Math.round(STREAM_CHUNK_S * rate);
  const minute = 60 * rate;
  const perMinute: number[] = [];
  let heldPeak = 0;
  let rssPeak = rssStart;
  const t0 = performance.now();
  let tMinute = t0;
  for (let i = 0; i < pcm.length; i += chunk) {
    live.push(pcm.subarray(i, i + chunk));
    if (live.stats!.backlogSeconds >= STREAM_BACKLOG_S) {
      heldPeak = Math.max(heldPeak, live.stats!.heldSamples);
      await live.drained!();
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
    if (Math.floor((i + chunk) / minute) > Math.floor(i / minute)) {
      await live.drained!();
      const t = performance.now();
      perMinute.push((t - tMinute) / 60_000);
      process.stderr.write(`  minute ${perMinute.length}: RTF ${perMinute.at(-1)!.toFixed(2)}\n`);
      tMinute = t;
    }
  }
  await live.close();
  await reader;
  const wall = (performance.now() - t0) / 1000;
  const audioSeconds = pcm.length / rate;
  const reference = utterances.filter((u) => u.end <= audioSeconds).map((u) => u.text).join(' ');
  const s = score(reference, finals.map((f) => f.text).join(' '));
  return {
    audioSeconds,
    wallSeconds: wall,
    rtf: wall / audioSeconds,
    rtfPerMinute: perMinute,
    finals: finals.length,
    partialEvents,
    partialDecodes: live.stats!.partials,
    wer: errors(s.words) / Math.max(1, s.words.ref),
    heldPeakSamples: heldPeak,
    rssMiB: { start: mib(rssStart), peak: mib(rssPeak), end: mib(process.memoryUsage().rss) },
    gpuPoolMiB: { start: mib(poolStart), end: mib(asr.gpu.pool.stats.liveBytes) },
  };
}

async function main(args: string[]): Promise<void> {
  const wav = resolve(option(args, '--audio', resolve(repoRoot, '.cache/long-audio/long-20min.wav')));
  const manifest = wav.replace(/\.wav$/, '.json');
  if (!existsSync(wav) || !existsSync(manifest)) {
    throw new Error(`${wav} and its .json are missing: run \`npm run make:long-audio\` (docs/eval.md)`);
  }
  const utterances = (JSON.parse(readFileSync(manifest, 'utf8')) as { utterances: Utterance[] }).utterances;
  const rate = numberOption(args, '--rate', 24000)!;
  const chunkMs = numberOption(args, '--chunk-ms', 40)!;
  const realtimeSeconds = numberOption(args, '--realtime-seconds', 90)!;
  const streamSeconds = numberOption(args, '--stream-seconds', 600)!;
  const partialSeconds = numberOption(args, '--partial-seconds', 20)!;
  const options: LiveOptions = {
    partialIntervalMs: numberOption(args, '--partial-ms', 500),
    maxNewTokens: numberOption(args, '--max-new-tokens', undefined),
  };
  const audio = (await decodeAudio(readFileSync(wav), wav)).samples;
  const pcmOf = (seconds: number) => {
    const x = getResampler(RATE, rate).process(audio.subarray(0, Math.round(seconds * RATE)));
    return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
  };
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const { asr, label } = await loadModel(args);
  // Warm-up (pipelines compiled), and what one final of 2 s costs alone.
  await asr.transcribe({ samples: audio.subarray(0, 2 * RATE), sampleRate: RATE }, { segmenter: 'fixed',
    maxNewTokens: options.maxNewTokens });
  const t = performance.now();
  await asr.transcribe({ samples: audio.subarray(RATE, 3 * RATE), sampleRate: RATE }, { segmenter: 'fixed',
    maxNewTokens: options.maxNewTokens });
  const oneFinalMs = performance.now() - t;
  const head = { model: label, adapter: adapterName(asr.gpu), cpu: cpus()[0]?.model, audio: wav, rate, chunkMs,
    partialIntervalMs: options.partialIntervalMs ?? 500, oneFinalMs, loadavg: loadavg() };
  log(`${label} on ${head.adapter}; one 2 s final alone: ${oneFinalMs.toFixed(0)} ms`);
  log(`phase 1: ${realtimeSeconds} s at real-time pace …`);
  const rt = realtimeSeconds > 0 ? await realTime(asr, pcmOf(realtimeSeconds), rate, chunkMs, options, utterances)
    : undefined;
  log(`phase 1b: ${partialSeconds} s of one growing utterance …`);
  const pc = partialSeconds > 0 ? await partialCadence(asr, pcmOf(partialSeconds), rate, chunkMs, options)
    : undefined;
  log(`phase 2: ${streamSeconds} s as fast as the session takes it …`);
  const st = streamSeconds > 0 ? await sustained(asr, pcmOf(streamSeconds), rate, options, utterances) : undefined;
  asr.dispose();
  const record = { ...head, realTime: rt, partials: pc, sustained: st, loadavgEnd: loadavg() };
  if (args.includes('--json')) {
    console.log(JSON.stringify(record, null, 2));
    return;
  }
  const f = (x: number) => (Number.isNaN(x) ? '—' : x.toFixed(0));
  console.log(`${label}, ${head.adapter}, PCM s16 at ${rate} Hz; one 2 s final alone ${f(oneFinalMs)} ms`);
  if (rt) {
    console.log(`real time (${rt.audioSeconds} s in ${chunkMs} ms chunks, ${rt.finals} finals): ` +
      `final after speech end p50 ${f(rt.latencyFromSpeechEndMs.p50)} / p95 ${f(rt.latencyFromSpeechEndMs.p95)} ms; ` +
      `after speech-stopped p50 ${f(rt.latencyFromSpeechStoppedMs.p50)} / ` +
      `p95 ${f(rt.latencyFromSpeechStoppedMs.p95)} ms; ` +
      `partial interval p50 ${f(rt.partialIntervalMs.p50)} / p95 ${f(rt.partialIntervalMs.p95)} ms ` +
      `(${rt.partialEvents} partials, ${rt.partialDecodesPerSpeechSecond.toFixed(2)} decodes per s of speech)`);
  }
  if (pc) {
    console.log(`partial cadence (${pc.audioSeconds} s, one utterance): ${pc.decodes} decodes, ` +
      `${pc.partialEvents} partial events, decode interval p50 ${f(pc.decodeIntervalMs.p50)} / ` +
      `p95 ${f(pc.decodeIntervalMs.p95)} ms`);
  }
  if (st) {
    const perMin = st.rtfPerMinute.map((x) => x.toFixed(2)).join(' ');
    console.log(`sustained (${st.audioSeconds} s): RTF ${st.rtf.toFixed(3)} (per minute: ${perMin}); ` +
      `${st.finals} finals, WER ${(100 * st.wer).toFixed(1)} %, ${st.partialDecodes} partial decodes; ` +
      `RSS ${st.rssMiB.start} → ${st.rssMiB.end} MiB (peak ${st.rssMiB.peak}); GPU pool ${st.gpuPoolMiB.start} → ` +
      `${st.gpuPoolMiB.end} MiB; held ≤ ${(st.heldPeakSamples / RATE).toFixed(2)} s`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
