/**
 * Serving many users (issue 17 §1–2): N concurrent clients on loopback against the real HTTP server (`buildServer`,
 * in this process), with the engine's batching on (`--batches`: the engine's default maxBatch, or a number) and off
 * (maxBatch 1) in the same run: one engine and server per setting, all loaded up front, and each row (workload,
 * client count) run for every setting in turn, so that a change in the shared machine's load hits them alike.
 *
 * Workloads: `clips` — the corpus clips (/work/shared/corpus/manifest.json, read from there), round-robin, each
 * client sending `--requests` of them one after the other; `long` — the 3-minute recordings of
 * `npm run make:long-audio` (.cache/long-audio), or the corpus clips joined when those are missing, one per client.
 * Per setting and client count: throughput (audio seconds per wall second), client latency p50/p95, time in the
 * server's queue p50/p95 (its log's queueMs), peak GPU buffer bytes (`gpu.pool.stats`, reset per row) and the
 * share of the transcriptions' engine time spent in the encode stage (encoder, projector and prefill; timings of
 * concurrent transcriptions overlap, so this is the share of each request's time, not of the GPU's). Each answer's
 * text is compared with the first answer for the same upload in the run (`textMismatches`: batching must not
 * change what a request gets).
 *
 * `--decode` also measures decoder tokens per second summed over `--rows` concurrent greedy sequences against one
 * (eos disabled, `--tokens` new tokens each, 2 s of audio in one 30 s window): the tokens chosen while all of them
 * were between their first token (the prefill's) and their last, over that window's length, so that no encoder
 * batch or prefill counts; median over `--iters` runs after one warm-up run.
 *
 * A checkpoint folder may be truncated as in the model bench (`--encoder-layers`, `--decoder-layers`: the first N
 * layers, eos replaced by `<|pad|>` so generation runs to max_new_tokens, which `--max-new-tokens` sets per
 * request). The demo model ('demo') is served as it is.
 *
 *   npm run bench:serve -- [--model demo|DIR] [--encoder-layers N] [--decoder-layers N] [--precision P]
 *     [--batches 1,default] [--clients 1,2,4,8,16|none] [--requests 2] [--long-clients 1,4|none]
 *     [--max-new-tokens N]
 *     [--decode] [--rows 8] [--tokens 32] [--iters 3] [--quick] [--json]
 *   --quick: clients 1,4,8, one request each, long clients 2, 16 tokens, one timed run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeAudio } from '../src/audio/decode';
import { encodeWav } from '../src/audio/wav-encode';
import { GlmAsr } from '../src/models/glm-asr/node';
import type { BatchStats } from '../src/models/glm-asr/scheduler';
import type { GlmAsr as Engine } from '../src/models/glm-asr/transcriber';
import { buildServer } from '../src/server/app';
import type { Samples16k, Transcriber, TranscribeOptions, Transcription } from '../src/server/transcriber';
import { adapterName } from './lib';
import { modelProvider } from './model/checkpoint';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const CORPUS = '/work/shared/corpus/manifest.json';
const LONG_DIR = join(ROOT, '.cache', 'long-audio');

interface Upload {
  name: string;
  bytes: Uint8Array;
  seconds: number;
}

interface ServeRecord {
  workload: 'clips' | 'long';
  /** The engine's maxBatch (the server runs that many at once). */
  maxBatch: number;
  clients: number;
  requests: number;
  audioSec: number;
  wallSec: number;
  audioSecPerSec: number;
  p50Ms: number;
  p95Ms: number;
  queueP50Ms: number;
  queueP95Ms: number;
  peakGpuMB: number;
  encodeShare: number;
  /** Answers whose text differs from the first answer for the same upload in this run (any setting). */
  textMismatches: number;
  /** Mean rows per decoder step (`asr.batchStats`): how much the running transcriptions shared. */
  meanRows: number;
}

interface DecodeRecord {
  maxBatch: number;
  rows: number;
  tokensPerSec: number;
  /** Wall time per decoder step of all rows together. */
  stepMs: number;
  /** Mean rows per decoder step over the timed runs (`asr.batchStats`). */
  meanRows: number;
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const numbers = (s: string, flag: string) => list(s).map((x) => {
  const n = Number(x);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: "${x}" is not a positive integer`);
  return n;
});
/** Nearest-rank quantile. */
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.max(0, Math.ceil(q * s.length) - 1)] : NaN;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (v: number, digits = 1) => Number(v.toFixed(digits));
const meanRows = (before: BatchStats, after: BatchStats) =>
  round((after.rows - before.rows) / Math.max(1, after.steps - before.steps), 2);

function options(args: string[]) {
  const { values: v } = parseArgs({
    args,
    options: {
      model: { type: 'string', default: 'demo' },
      'encoder-layers': { type: 'string' },
      'decoder-layers': { type: 'string' },
      precision: { type: 'string' },
      batches: { type: 'string', default: '1,default' },
      clients: { type: 'string' },
      requests: { type: 'string' },
      'long-clients': { type: 'string' },
      'max-new-tokens': { type: 'string' },
      decode: { type: 'boolean', default: false },
      rows: { type: 'string', default: '8' },
      tokens: { type: 'string' },
      iters: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const quick = v.quick!;
  const layers = (flag: 'encoder-layers' | 'decoder-layers') =>
    v[flag] === undefined ? undefined : numbers(v[flag]!, `--${flag}`)[0];
  return {
    model: v.model!,
    encLayers: layers('encoder-layers'),
    decLayers: layers('decoder-layers'),
    precision: v.precision as 'f32' | 'f16' | 'int8' | 'int4' | undefined,
    batches: list(v.batches!).map((b) => (b === 'default' ? undefined : numbers(b, '--batches')[0])),
    clients: v.clients === 'none' ? [] : numbers(v.clients ?? (quick ? '1,4,8' : '1,2,4,8,16'), '--clients'),
    requests: numbers(v.requests ?? (quick ? '1' : '2'), '--requests')[0],
    longClients: v['long-clients'] === 'none' ? [] : numbers(v['long-clients'] ?? (quick ? '2' : '1,4'),
      '--long-clients'),
    maxNewTokens: v['max-new-tokens'],
    decode: v.decode!,
    rows: numbers(v.rows!, '--rows')[0],
    tokens: numbers(v.tokens ?? (quick ? '16' : '32'), '--tokens')[0],
    iters: numbers(v.iters ?? (quick ? '1' : '3'), '--iters')[0],
    json: v.json!,
  };
}
type Options = ReturnType<typeof options>;

async function corpusClips(): Promise<Upload[]> {
  if (!existsSync(CORPUS)) throw new Error(`${CORPUS} is missing: the clips workload reads the shared corpus`);
  const manifest = JSON.parse(readFileSync(CORPUS, 'utf8')) as { clips: { file: string }[] };
  const dir = resolve(CORPUS, '..');
  return Promise.all(manifest.clips.map(async ({ file }) => {
    const bytes = new Uint8Array(readFileSync(join(dir, file)));
    return { name: file, bytes, seconds: (await decodeAudio(bytes, file)).durationSec };
  }));
}

/** The 3-minute long recordings, or the corpus clips joined into one recording when they have not been made. */
async function longRecordings(clips: Upload[]): Promise<Upload[]> {
  const names = ['long-3min-1.wav', 'long-3min-2.wav', 'long-3min-3.wav'].filter((n) => existsSync(join(LONG_DIR, n)));
  if (names.length) {
    return Promise.all(names.map(async (name) => {
      const bytes = new Uint8Array(readFileSync(join(LONG_DIR, name)));
      return { name, bytes, seconds: (await decodeAudio(bytes, name)).durationSec };
    }));
  }
  log('  (.cache/long-audio has no long recordings, npm run make:long-audio: joining the corpus clips instead)');
  const parts = await Promise.all(clips.map(async (c) => (await decodeAudio(c.bytes, c.name)).samples));
  const joined = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (joined.set(p, at), at + p.length), 0);
  return [{ name: 'corpus-joined.wav', bytes: encodeWav(joined, 16000), seconds: joined.length / 16000 }];
}

async function loadEngine(o: Options, maxBatch: number | undefined, noEos: boolean): Promise<Engine> {
  const truncated = o.encLayers !== undefined || o.decLayers !== undefined;
  const opts = { maxBatch, precision: o.precision };
  if (!truncated && !noEos) return GlmAsr.load(o.model, opts);
  const dir = o.model === 'demo' ? join(ROOT, 'models', 'demo') : o.model;
  const { provider } = await modelProvider(dir, o.encLayers, o.decLayers);
  return GlmAsr.load(provider, opts);
}

/** The engine as the server sees it, adding up the stage timings of the transcriptions it returns. */
function timed(asr: Engine) {
  const sums = { encode: 0, generate: 0 };
  const transcriber: Transcriber = {
    modelId: asr.modelId,
    maxBeams: asr.maxBeams,
    maxBatch: asr.maxBatch,
    minAudioSeconds: asr.minAudioSeconds,
    async transcribe(audio: Samples16k, options: TranscribeOptions): Promise<Transcription> {
      const t = await asr.transcribe(audio, options);
      sums.encode += t.timings.encode;
      sums.generate += t.timings.generate;
      return t;
    },
    transcribeStream: (audio, options) => asr.transcribeStream(audio, options),
  };
  return { transcriber, sums };
}

/** The first text answered for each upload: batching must not change what a request gets. */
const firstText = new Map<string, string>();

/** POSTs one upload; true when its text equals the first one seen for that upload. */
async function post(base: string, u: Upload, fields: Record<string, string>): Promise<boolean> {
  const form = new FormData();
  form.append('file', new Blob([u.bytes as Uint8Array<ArrayBuffer>]), u.name.split('/').pop());
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(`${base}/v1/audio/transcriptions`, { method: 'POST', body: form });
  if (res.status !== 200) throw new Error(`${u.name}: HTTP ${res.status} ${await res.text()}`);
  const { text } = (await res.json()) as { text: string };
  if (!firstText.has(u.name)) firstText.set(u.name, text);
  return firstText.get(u.name) === text;
}

/** One batching setting: a server over its own engine. */
async function startSetting(o: Options, batch: number | undefined, warmUp: Upload[]) {
  const asr = await loadEngine(o, batch, false);
  const { transcriber, sums } = timed(asr);
  const logs: { queueMs?: number; path: string }[] = [];
  const app = buildServer({
    transcriber, rateLimit: false, queueSize: 256, webRoot: false, browserBundleDir: false, modelDir: false,
    logger: (line) => logs.push(JSON.parse(line)),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const fields: Record<string, string> = o.maxNewTokens ? { max_new_tokens: o.maxNewTokens } : {};
  // Warm-up: pipelines of one and of two sequences at once, and the pools, are not what this measures.
  await Promise.all(warmUp.map((c) => post(base, c, fields)));
  const close = async () => {
    await app.close();
    asr.dispose();
  };
  return { asr, sums, logs, base, fields, close };
}
type Setting = Awaited<ReturnType<typeof startSetting>>;

/** `clients` clients, each sending `perClient` uploads one after the other, against one setting's server. */
async function serveRow(s: Setting, workload: ServeRecord['workload'], uploads: Upload[], clients: number,
  perClient: number): Promise<ServeRecord> {
  const { asr, sums, logs } = s;
  const pool = asr.gpu.pool.stats;
  pool.peakBytes = pool.liveBytes;
  sums.encode = sums.generate = 0;
  logs.length = 0;
  const steps0 = { ...asr.batchStats };
  let next = 0;
  let audioSec = 0;
  let textMismatches = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    for (let r = 0; r < perClient; r++) {
      const u = uploads[next++ % uploads.length];
      const t = performance.now();
      if (!(await post(s.base, u, s.fields))) textMismatches++;
      latencies.push(performance.now() - t);
      audioSec += u.seconds;
    }
  }));
  const wallSec = (performance.now() - t0) / 1000;
  const queued = logs.filter((l) => l.path === '/v1/audio/transcriptions').map((l) => l.queueMs ?? 0);
  const rec: ServeRecord = {
    workload, maxBatch: asr.maxBatch, clients, requests: latencies.length, audioSec: round(audioSec),
    wallSec: round(wallSec, 2), audioSecPerSec: round(audioSec / wallSec, 2),
    p50Ms: Math.round(quantile(latencies, 0.5)), p95Ms: Math.round(quantile(latencies, 0.95)),
    queueP50Ms: Math.round(quantile(queued, 0.5)), queueP95Ms: Math.round(quantile(queued, 0.95)),
    peakGpuMB: Math.round(pool.peakBytes / 2 ** 20),
    encodeShare: round(sums.encode / (sums.encode + sums.generate), 3), textMismatches,
    meanRows: meanRows(steps0, asr.batchStats),
  };
  log(`  ${JSON.stringify(rec)}`);
  return rec;
}

/**
 * Every setting's server at once, each row run for one setting after the other (so that a change in the shared
 * machine's load hits the settings alike).
 */
async function serveRows(o: Options, clips: Upload[], long: Upload[]) {
  const settings: Setting[] = [];
  const records: ServeRecord[] = [];
  try {
    for (const batch of o.batches) {
      log(`maxBatch ${batch ?? 'default'}: loading, warm-up`);
      settings.push(await startSetting(o, batch, clips.slice(0, 2)));
    }
    const runs: [ServeRecord['workload'], Upload[], number[], number][] = [
      ['clips', clips, o.clients, o.requests], ['long', long, o.longClients, 1],
    ];
    for (const [workload, uploads, clientCounts, perClient] of runs) {
      for (const clients of clientCounts) {
        for (const s of settings) records.push(await serveRow(s, workload, uploads, clients, perClient));
      }
    }
  } finally {
    for (const s of settings) await s.close();
  }
  return { records, adapter: settings.length ? adapterName(settings[0].asr.gpu) : '' };
}

/** Decoder tokens per second summed over `rows` concurrent greedy sequences, and over one (see the header). */
async function decodeRows(o: Options, batch: number | undefined, audio: Float32Array) {
  const asr = await loadEngine(o, batch, true);
  const tokens = o.tokens;
  /**
   * Tokens per second summed over `rows` concurrent sequences, counted in the window where every one of them is
   * between its first token and its last: the steady state of the decoder (no encoder batch or prefill of a
   * sequence still joining falls in it).
   */
  const run = async (rows: number) => {
    const times = await Promise.all(Array.from({ length: rows }, async () => {
      const at: number[] = [];
      await asr.transcribe({ samples: audio, sampleRate: 16000 }, {
        segmenter: 'fixed', maxNewTokens: tokens,
        onProgress: (p) => {
          if (p.stage === 'generate') at.push(performance.now());
        },
      });
      return at;
    }));
    const from = Math.max(...times.map((t) => t[0]));
    const to = Math.min(...times.map((t) => t[t.length - 1]));
    // Tokens chosen after the window opened: each is one decoder step's row.
    const steps = times.reduce((n, t) => n + t.filter((x) => x > from && x <= to).length, 0);
    if (to <= from || steps === 0) throw new Error(`${rows} sequences never decoded together: raise --tokens`);
    const perSec = steps / ((to - from) / 1000);
    log(`    ${rows} sequence(s): ${steps} tokens in ${Math.round(to - from)} ms of decoding together`);
    return perSec;
  };
  const out: DecodeRecord[] = [];
  try {
    for (const rows of [1, o.rows]) {
      await run(rows); // warm-up: this many rows' pipelines
      const steps0 = { ...asr.batchStats };
      const rates: number[] = [];
      for (let i = 0; i < o.iters; i++) rates.push(await run(rows));
      const tokensPerSec = median(rates);
      // Steps of min(rows, maxBatch) rows each give `tokensPerSec` rows per second.
      const stepMs = round((1000 / tokensPerSec) * Math.min(rows, asr.maxBatch), 1);
      const rec = {
        maxBatch: asr.maxBatch, rows, tokensPerSec: round(tokensPerSec, 2), stepMs,
        meanRows: meanRows(steps0, asr.batchStats),
      };
      log(`  ${JSON.stringify(rec)}`);
      out.push(rec);
    }
  } finally {
    asr.dispose();
  }
  return { records: out, adapter: adapterName(asr.gpu) };
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const clips = await corpusClips();
  const long = o.longClients.length ? await longRecordings(clips) : [];
  const truncation = o.encLayers !== undefined || o.decLayers !== undefined
    ? `encoder ${o.encLayers ?? 'all'} / decoder ${o.decLayers ?? 'all'} layers` : 'none';
  log(`bench:serve — model ${o.model} (truncation: ${truncation}), ${clips.length} clips, ` +
    `${long.length} long recording(s) of ${long.map((u) => round(u.seconds)).join(', ')} s`);
  const serve: ServeRecord[] = [];
  const decode: DecodeRecord[] = [];
  let adapter = '';
  if (o.clients.length || o.longClients.length) {
    const r = await serveRows(o, clips, long);
    serve.push(...r.records);
    adapter = r.adapter;
  }
  for (const batch of o.batches) {
    if (o.decode) {
      log(`maxBatch ${batch ?? 'default'}: decode tokens/s, 1 and ${o.rows} sequences`);
      const audio = (await decodeAudio(clips[0].bytes, clips[0].name)).samples.subarray(0, 2 * 16000);
      const r = await decodeRows(o, batch, audio);
      decode.push(...r.records);
      adapter = r.adapter;
    }
  }
  const result = { model: o.model, truncation, precision: o.precision ?? 'auto', adapter, serve, decode };
  if (o.json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`model ${o.model}, truncation ${truncation}, adapter ${adapter}`);
  if (serve.length) console.table(serve);
  if (decode.length) console.table(decode);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
