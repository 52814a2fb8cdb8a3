/**
 * Model benchmark at the real model's size, side by side with ONNX Runtime (issue: benchmark at the real size).
 *
 *   npm run -s bench -- [--json] [--out FILE] [--model DIR] [--precision f32|f16|int8[,...]] [--stages LIST]
 *                       [--iters N] [--warmup N] [--min-time S] [--encoder-layers N] [--decoder-layers N]
 *                       [--peers LIST|none] [--peer-model DIR] [--beams 1,4] [--decode-pos P] [--audio 5,30,120]
 *                       [--tokens 20,90,360] [--onnx-dir DIR] [--no-fit]
 *
 *   --model DIR         checkpoint folder (default .cache/models/glm-asr-nano-2512-random: the full-size random
 *                       checkpoint, 4.5 GB BF16; make it with
 *                       /usr/bin/python3 weights-tools/make_checkpoint.py --preset glm-asr-nano-2512 --out .cache/models/glm-asr-nano-2512-random --no-check)
 *   --precision P       weight storage: f32 (default on CPU adapters), f16 (default on GPUs), int8, or a comma list
 *                       (e.g. f32,int8: each is loaded and measured in turn, same run). int8 uses an INT8 checkpoint:
 *                       --model itself when it is one, else <model>-int8 next to it, made with `npm run quantize`
 *                       (docs/int8.md) when missing. The peers always run the float checkpoint (f32 ONNX); when
 *                       --model is an INT8 checkpoint, name the float one with --peer-model DIR
 *   --stages LIST       comma list of load, encoder-window, prefill, decode-step, transcribe (default: all)
 *   --iters/--warmup    timed / untimed runs per measurement (default 3 / 1; transcribe runs once per length);
 *   --min-time S        cheap measurements get more timed runs, up to S seconds (default 5) or 30 runs
 *   --encoder-layers N  load only the first N encoder layers (a depth-truncated copy: config override, same
 *   --decoder-layers N  weights); default: all. Truncated runs also time depth 1 and report per-layer times and a
 *                       full-depth extrapolation (linear in depth, paired per interleaved round), in records marked
 *                       extrapolated: true. On lavapipe e.g. --encoder-layers 4 --decoder-layers 8
 *   --peers LIST        ort-webgpu, ort-cpu (default both; `none` to skip): the same random model's encoder window
 *                       and decode step exported to ONNX (weights-tools/export_onnx.py, run when missing) and timed
 *                       by onnxruntime-node in child processes (bench/peers/ort.ts), at the same depths
 *   --beams LIST        decode-step searches: 1 = greedy (step + argmax id read back), B > 1 = beam search (step over
 *                       B rows + top-2B candidates read back + KV reorder); default 1,4
 *   --decode-pos P      KV-cache position of the timed decode steps (default: 30 s prompt length + 50)
 *   --audio / --tokens  transcribe lengths in seconds and their maxNewTokens caps (eos is disabled so every run
 *                       generates exactly the cap; default 5,30,120 s with 20,90,360 tokens ≈ 3 tokens/s of speech)
 *   --out FILE          also write the JSON records to FILE
 *   --json              print ONLY a JSON array of records on stdout (run with `npm run -s` so npm's banner stays
 *                       off stdout; progress goes to stderr):
 *                       {stage, engine: ours|ort-webgpu|ort-cpu, precision, shape, adapter, medianMs, minMs, iters,
 *                        warmup, layers: {encoder, decoder}, extrapolated, gflops?, gbps?, pctPeakFlops?, pctCopy?,
 *                        cpuMs? (median CPU time of the process per run, worker threads included: less disturbed by
 *                        other jobs than wall time), rtf?, peakGpuBytes?, peakRssBytes?, load (other processes' CPU
 *                        use during the timed loop), check?, vsOrtWebgpu? (ours/theirs wall), vsOrtWebgpuCpuTime?, ...}
 *
 * On lavapipe (2 CPU cores) one full-depth encoder window is about 5 minutes; use e.g. --encoder-layers 4
 * --decoder-layers 8 for the side-by-side run (docs/benchmarks.md). The same command runs unchanged on a machine with a GPU (scripts/with-gpu-env.sh leaves a
 * real adapter alone).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { Gpu, Recorder } from '../src/gpu';
import { GlmAsr } from '../src/models/glm-asr/transcriber';
import { Decoder } from '../src/models/glm-asr/decoder';
import { encodeAudio, encoderFrames } from '../src/models/glm-asr/encoder';
import type { GlmAsrConfig } from '../src/models/glm-asr/config';
import type { GlmAsrWeights, WeightPrecision } from '../src/models/glm-asr/weights';
import { argmax, topKLogSoftmax } from '../src/ops/sample';
import { buildTranscriptionPrompt } from '../src/tokenizer';
import { NodeFolderProvider } from '../src/weights/node-file-source';
import type { FileProvider } from '../src/weights/checkpoint';
import type { ByteSource } from '../src/weights/sources';
import { runGroup, type BenchRecord, seededUniform } from './lib';
import * as copyCases from './cases/copy';
import * as matmulCases from './cases/matmul';
import { LoadMeter, median, peakRssBytes, type LoadReport } from './peers/meter';

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

const STAGES = ['load', 'encoder-window', 'prefill', 'decode-step', 'transcribe'] as const;
type Stage = (typeof STAGES)[number];
type Engine = 'ours' | 'ort-webgpu' | 'ort-cpu';
const DEFAULT_MODEL = '.cache/models/glm-asr-nano-2512-random';

const { values: argv } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    model: { type: 'string', default: DEFAULT_MODEL },
    precision: { type: 'string' },
    'peer-model': { type: 'string' },
    stages: { type: 'string', default: STAGES.join(',') },
    iters: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'encoder-layers': { type: 'string' },
    'decoder-layers': { type: 'string' },
    peers: { type: 'string', default: 'ort-webgpu,ort-cpu' },
    'decode-pos': { type: 'string' },
    audio: { type: 'string', default: '5,30,120' },
    tokens: { type: 'string', default: '20,90,360' },
    beams: { type: 'string', default: '1,4' },
    'onnx-dir': { type: 'string' },
    'no-fit': { type: 'boolean', default: false },
    'min-time': { type: 'string', default: '5' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (argv.help) {
  process.stdout.write(readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0].replace(/^\/\*\*\n/, '').replace(/^ \* ?/gm, ''));
  process.exit(0);
}

const int = (name: string, v: string | undefined, min: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} needs an integer ≥ ${min}, got ${v}`);
  return n;
};
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const opts = {
  json: argv.json!,
  model: argv.model!,
  precisions: argv.precision ? list(argv.precision) : undefined,
  peerModel: argv['peer-model'],
  stages: list(argv.stages!) as Stage[],
  iters: int('iters', argv.iters, 1)!,
  warmup: int('warmup', argv.warmup, 0)!,
  encLayers: int('encoder-layers', argv['encoder-layers'], 1),
  decLayers: int('decoder-layers', argv['decoder-layers'], 1),
  peers: argv.peers === 'none' ? [] : (list(argv.peers!) as Engine[]),
  decodePos: int('decode-pos', argv['decode-pos'], 1),
  audio: list(argv.audio!).map(Number),
  tokens: list(argv.tokens!).map(Number),
  beams: list(argv.beams!).map(Number),
  onnxDir: argv['onnx-dir'],
  fit: !argv['no-fit'],
  minTime: Number(argv['min-time']),
  out: argv.out,
};
for (const s of opts.stages) if (!STAGES.includes(s)) throw new Error(`unknown stage "${s}" (${STAGES.join(', ')})`);
for (const p of opts.peers) if (p !== 'ort-webgpu' && p !== 'ort-cpu') throw new Error(`unknown peer "${p}" (ort-webgpu, ort-cpu, none)`);
for (const p of opts.precisions ?? []) if (!['f32', 'f16', 'int8'].includes(p)) throw new Error(`--precision takes f32, f16, int8 or a comma list of them, got ${p}`);
if (opts.audio.length !== opts.tokens.length) throw new Error('--audio and --tokens need the same number of entries');
const has = (s: Stage) => opts.stages.includes(s);
const log = (s: string) => process.stderr.write(`${s}\n`);

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

export interface ModelRecord {
  stage: Stage;
  engine: Engine;
  precision: string;
  shape: Record<string, number | string>;
  adapter: string;
  medianMs: number;
  minMs?: number;
  iters: number;
  warmup: number;
  /** Depth the figure is for (measured or extrapolated to). */
  layers: { encoder: number; decoder: number };
  /** true: computed from per-layer and fixed costs measured at smaller depths (see `fit`), not measured. */
  extrapolated: boolean;
  fit?: { measuredLayers: number[]; perLayerMs: number; fixedMs: number; method: string };
  gflops?: number;
  /** Weight (+ KV cache) bytes read per run / median. */
  gbps?: number;
  pctPeakFlops?: number;
  pctCopy?: number;
  rtf?: number;
  peakGpuBytes?: number;
  peakRssBytes?: number;
  load?: LoadReport;
  check?: unknown;
  /** ours medianMs / peer medianMs at the same stage, shape and depth (< 1: ours faster). */
  vsOrtWebgpu?: number;
  vsOrtCpu?: number;
  note?: string;
  [extra: string]: unknown;
}

const records: ModelRecord[] = [];
const r3 = (v: number) => Number(v.toPrecision(4));

// ---------------------------------------------------------------------------------------------
// Cost model (FLOPs and bytes per run, from the config; shared by ours and the peers)
// ---------------------------------------------------------------------------------------------

function costs(cfg: GlmAsrConfig, bytesPerWeight: number) {
  const e = cfg.encoder;
  const d = cfg.decoder;
  const fe = cfg.frontEnd;
  const T = encoderFrames(cfg);
  const t1 = fe.nFrames;
  const tok = T / cfg.projector.mergeFactor;
  const encLayerW = 4 * e.hidden * e.hidden + 2 * e.hidden * e.ffn;
  const encFixedW = fe.melBins * e.hidden * 3 + e.hidden * e.hidden * 3 + cfg.projector.inDim * cfg.projector.hidden + cfg.projector.hidden * cfg.projector.outDim;
  const decLayerW = d.hidden * d.heads * d.headDim * 2 + 2 * d.hidden * d.kvHeads * d.headDim + 3 * d.hidden * d.ffn;
  const headW = d.vocab * d.hidden;
  return {
    encoder(layers: number) {
      const flops = 2 * t1 * e.hidden * fe.melBins * 3 + 2 * T * e.hidden * e.hidden * 3
        + layers * (2 * T * encLayerW + 4 * T * T * e.heads * e.headDim)
        + 2 * tok * (cfg.projector.inDim * cfg.projector.hidden + cfg.projector.hidden * cfg.projector.outDim);
      return { flops, bytes: (encFixedW + layers * encLayerW) * bytesPerWeight };
    },
    prefill(layers: number, tokens: number) {
      const flops = layers * (2 * tokens * decLayerW + 2 * tokens * tokens * d.heads * d.headDim) + 2 * headW;
      return { flops, bytes: (layers * decLayerW + headW) * bytesPerWeight };
    },
    step(layers: number, beams: number, pos: number) {
      const flops = 2 * beams * (layers * decLayerW + headW) + layers * 4 * beams * (pos + 1) * d.heads * d.headDim;
      const kv = layers * 2 * beams * (pos + 1) * d.kvHeads * d.headDim * 4;
      return { flops, bytes: (layers * decLayerW + headW) * bytesPerWeight + kv };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Model folder with a depth override
// ---------------------------------------------------------------------------------------------

/** A folder whose config.json says fewer layers (the loader then reads only the first N of each stack) and
 * whose eos ids are replaced by `<|pad|>`'s so that a random model's transcription runs to maxNewTokens. */
class OverrideProvider implements FileProvider {
  readonly name: string;
  constructor(private readonly inner: FileProvider, private readonly files: Map<string, string>) {
    this.name = inner.name;
  }
  exists(p: string): Promise<boolean> {
    return this.files.has(p) ? Promise.resolve(true) : this.inner.exists(p);
  }
  open(p: string): Promise<ByteSource> {
    return this.inner.open(p);
  }
  readText(p: string): Promise<string> {
    return this.files.has(p) ? Promise.resolve(this.files.get(p)!) : this.inner.readText(p);
  }
}

async function modelProvider(dir: string, encLayers: number | undefined, decLayers: number | undefined) {
  const inner = new NodeFolderProvider(dir);
  const config = JSON.parse(await inner.readText('config.json'));
  const full = { encoder: config.audio_config?.num_hidden_layers ?? 32, decoder: config.text_config?.num_hidden_layers ?? 28 };
  const use = { encoder: encLayers ?? full.encoder, decoder: decLayers ?? full.decoder };
  if (use.encoder > full.encoder || use.decoder > full.decoder) throw new Error(`the checkpoint has ${full.encoder} encoder and ${full.decoder} decoder layers`);
  config.audio_config = { ...config.audio_config, num_hidden_layers: use.encoder };
  config.text_config = { ...config.text_config, num_hidden_layers: use.decoder };
  const pad = config.audio_token_id ?? 59260;
  config.text_config.eos_token_id = [pad];
  if ('eos_token_id' in config) config.eos_token_id = [pad];
  const files = new Map([['config.json', JSON.stringify(config)]]);
  if (await inner.exists('generation_config.json')) {
    const gen = JSON.parse(await inner.readText('generation_config.json'));
    gen.eos_token_id = [pad];
    files.set('generation_config.json', JSON.stringify(gen));
  }
  return { provider: new OverrideProvider(inner, files), full, use };
}

// ---------------------------------------------------------------------------------------------
// Measuring helpers
// ---------------------------------------------------------------------------------------------

/** Peak RSS between start() and stop() (sampled every 20 ms) and the GPU pool's peak bytes over the same span. */
class StagePeaks {
  private rss = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly gpu: Gpu) {}
  start(): void {
    this.gpu.pool.stats.peakBytes = this.gpu.pool.stats.liveBytes;
    this.rss = process.memoryUsage().rss;
    this.timer = setInterval(() => { this.rss = Math.max(this.rss, process.memoryUsage().rss); }, 20);
  }
  stop(): { peakGpuBytes: number; peakRssBytes: number } {
    clearInterval(this.timer);
    this.rss = Math.max(this.rss, process.memoryUsage().rss);
    return { peakGpuBytes: this.gpu.pool.stats.peakBytes, peakRssBytes: this.rss };
  }
}

/**
 * Times variants round-robin (so that a change in machine load hits every variant alike): `--warmup` untimed
 * rounds, then max(--iters, enough rounds to fill --min-time seconds, at most 30) timed rounds. Medians per variant.
 */
async function timeInterleaved(variants: { name: string; run: () => Promise<void> }[]) {
  let round = 0;
  for (let i = 0; i < opts.warmup; i++) {
    const r0 = performance.now();
    for (const v of variants) {
      const t0 = performance.now();
      await v.run();
      log(`  ${v.name} warm-up ${i + 1}/${opts.warmup}: ${(performance.now() - t0).toFixed(1)} ms`);
    }
    round = performance.now() - r0;
  }
  const times = variants.map(() => [] as number[]);
  const cpu = variants.map(() => [] as number[]);
  const meter = LoadMeter.start();
  let n = opts.iters;
  for (let i = 0; i < n; i++) {
    const r0 = performance.now();
    for (const [k, v] of variants.entries()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await v.run();
      times[k].push(performance.now() - t0);
      const dc = process.cpuUsage(c0);
      cpu[k].push((dc.user + dc.system) / 1000);
    }
    if (i === 0) {
      round = Math.min(round || Infinity, performance.now() - r0);
      n = Math.max(opts.iters, Math.min(30, Math.ceil((opts.minTime * 1000) / round)));
    }
    log(`  round ${i + 1}/${n}: ${variants.map((v, k) => `${v.name} ${times[k][i].toFixed(1)} ms`).join(', ')}`);
  }
  const load = meter.stop();
  return times.map((ts, k) => ({ medianMs: r3(median(ts)), minMs: r3(Math.min(...ts)), cpuMs: r3(median(cpu[k])), iters: ts.length, times: ts.map(r3), cpuTimes: cpu[k].map(r3), load }));
}

/** Linear-in-depth fit from two depths: t(L) = fixed + L · perLayer. */
function fit(a: { layers: number; ms: number }, b: { layers: number; ms: number }) {
  const perLayer = (b.ms - a.ms) / (b.layers - a.layers);
  return { perLayerMs: r3(perLayer), fixedMs: r3(a.ms - a.layers * perLayer) };
}

/**
 * Full-depth estimate from runs at depths lo < hi that were timed round-robin: per round i,
 * t_lo,i + (full − lo) · (t_hi,i − t_lo,i) / (hi − lo), and the median over rounds (a paired estimate: a load
 * change during one round hits both of its runs, so it cancels better than a fit through the two medians).
 * Falls back to the two medians when per-round times are missing.
 */
function pairedFit(lo: number, hi: number, full: number, tLo: number[] | undefined, tHi: number[] | undefined, mLo: number, mHi: number) {
  if (tLo && tHi && tLo.length === tHi.length && tLo.length > 0) {
    const per = tLo.map((t, i) => (tHi[i] - t) / (hi - lo));
    const perLayerMs = r3(median(per));
    const fullMs = r3(median(tLo.map((t, i) => t + (full - lo) * per[i])));
    return { perLayerMs, fixedMs: r3(fullMs - full * perLayerMs), fullMs,
      method: `median over ${tLo.length} interleaved rounds of t(${lo}) + (${full} − ${lo}) × (t(${hi}) − t(${lo})) / ${hi - lo} (linear in depth)` };
  }
  const f = fit({ layers: lo, ms: mLo }, { layers: hi, ms: mHi });
  return { ...f, fullMs: r3(f.fixedMs + full * f.perLayerMs), method: `t(L) = fixed + L × perLayer through the medians at ${lo} and ${hi} layers` };
}


/** Speech-like test audio: a few drifting tones under noise, 16 kHz. */
function syntheticAudio(seconds: number): Float32Array {
  const n = Math.round(seconds * 16000);
  const x = seededUniform(n, 5, 0.02);
  for (let i = 0; i < n; i++) {
    const t = i / 16000;
    x[i] += 0.2 * Math.sin(2 * Math.PI * (180 + 40 * Math.sin(2 * Math.PI * 0.7 * t)) * t) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t));
  }
  return x;
}

const relL2 = (got: Float32Array, want: Float32Array) => {
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
};

// ---------------------------------------------------------------------------------------------
// Peers (ONNX Runtime in child processes)
// ---------------------------------------------------------------------------------------------

const root = resolve(new URL('..', import.meta.url).pathname);

function runChild(cmd: string, args: string[], capture: boolean): Promise<string> {
  return new Promise((res, rej) => {
    // stdout is captured or forwarded to stderr: with --json only the records may reach our stdout.
    const p = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => {
      if (capture) out += d;
      else for (const line of d.toString().split('\n')) if (line.trim()) log(`    ${line}`);
    });
    p.stderr!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim() && !/artificially reduced/.test(line)) log(`    ${line}`);
    });
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

const python = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

async function onnxModel(model: string, onnxDir: string, part: 'encoder' | 'decoder', layers: number): Promise<string> {
  const name = `${part}-L${layers}`;
  const file = join(onnxDir, name, `${name}.onnx`);
  const check = file.replace(/\.onnx$/, '.check.json');
  // Re-export when missing or older than the checkpoint's weights (a re-generated checkpoint).
  const weights = ['model.safetensors', 'model.safetensors.index.json'].map((f) => join(model, f)).find((f) => existsSync(f));
  const stale = weights !== undefined && existsSync(check) && statSync(check).mtimeMs < statSync(weights).mtimeMs;
  if (!existsSync(file) || !existsSync(check) || stale) {
    log(`  exporting ${name} to ONNX (weights-tools/export_onnx.py) …`);
    await runChild(python, ['weights-tools/export_onnx.py', '--model', model, '--out', onnxDir, '--part', part,
      `--${part}-layers`, String(layers)], false);
  }
  return file;
}

interface OrtRecord {
  engine: Engine; adapter: string; medianMs: number; minMs: number; cpuMs?: number; cpuTimes?: number[]; times: number[]; iters: number; warmup: number; sessionMs: number;
  load: LoadReport; peakRssBytes: number; check?: { ok: boolean; outputs: unknown[] };
}

async function runOrt(files: string[], ep: 'webgpu' | 'cpu', extra: string[]): Promise<OrtRecord[]> {
  const tsx = join(root, 'node_modules', '.bin', 'tsx');
  const out = await runChild(tsx, ['bench/peers/ort.ts', '--onnx', files.join(','), '--ep', ep, '--iters', String(opts.iters),
    '--warmup', String(opts.warmup), '--min-time', String(opts.minTime), ...extra], true);
  return out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as OrtRecord);
}

/** The `quantization` entry of a checkpoint folder's safetensors metadata (undefined for a float checkpoint). */
function quantization(dir: string): string | undefined {
  const index = join(dir, 'model.safetensors.index.json');
  const file = existsSync(index)
    ? join(dir, Object.values((JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map)[0])
    : join(dir, 'model.safetensors');
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const head = Buffer.alloc(Math.min(n, 100 << 20));
    readSync(fd, head, 0, head.length, 8);
    return (JSON.parse(head.toString('utf8')) as { __metadata__?: Record<string, string> }).__metadata__?.quantization;
  } finally {
    closeSync(fd);
  }
}

/** Checkpoint folder for our engine at `precision` (INT8: quantised on first use) and the float one for the peers. */
async function checkpointsFor(precision: string): Promise<{ ours: string; float: string | undefined }> {
  const isInt8 = quantization(opts.model) !== undefined;
  if (precision !== 'int8') {
    if (isInt8) throw new Error(`${opts.model} is an INT8 checkpoint: it loads only with --precision int8`);
    return { ours: opts.model, float: opts.model };
  }
  if (isInt8) return { ours: opts.model, float: opts.peerModel };
  const q = `${resolve(opts.model)}-int8`;
  if (quantization(q) === undefined) {
    log(`  quantising ${opts.model} → ${q} (npm run quantize, docs/int8.md) …`);
    await runChild(join(root, 'node_modules', '.bin', 'tsx'), ['weights-tools/quantize.ts', opts.model, q, '--force'], false);
  }
  return { ours: q, float: opts.model };
}

const bytesPerWeight = (precision: string) => (precision === 'f32' ? 4 : precision === 'f16' ? 2 : 1 + 4 / 64);

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main() {
  if (!existsSync(join(opts.model, 'config.json'))) {
    throw new Error(`no checkpoint at ${opts.model}. Make the full-size random one (4.5 GB, about 70 s) with\n` +
      '  /usr/bin/python3 weights-tools/make_checkpoint.py --preset glm-asr-nano-2512 --out .cache/models/glm-asr-nano-2512-random --no-check\n' +
      'or pass --model DIR (a folder in the Hugging Face layout).');
  }
  const { full, use } = await modelProvider(opts.model, opts.encLayers, opts.decLayers);
  const gpu0 = await Gpu.create();
  const adapter = gpu0.describe();
  const precisions = opts.precisions ?? [gpu0.caps.cpuAdapter ? 'f32' : 'f16'];
  const checkpoints = new Map<string, { ours: string; float: string | undefined }>();
  for (const p of precisions) checkpoints.set(p, await checkpointsFor(p));
  const floatModel = [...checkpoints.values()].map((c) => c.float).find((f) => f !== undefined);
  const peers = floatModel ? opts.peers : [];
  if (opts.peers.length && !floatModel) log('peers skipped: --model is an INT8 checkpoint; name the float one with --peer-model DIR');
  const onnxDir = opts.onnxDir ?? join('.cache', 'onnx', basename(resolve(floatModel ?? opts.model)));
  const depths = (n: number, fullN: number) => (opts.fit && n < fullN && n >= 2 ? [n, 1] : [n]);
  if (peers.length) {
    // Export first (the exporter also writes the PyTorch reference output that our encoder is checked against).
    if (has('encoder-window')) for (const L of depths(use.encoder, full.encoder)) await onnxModel(floatModel!, onnxDir, 'encoder', L);
    if (has('decode-step')) for (const L of depths(use.decoder, full.decoder)) await onnxModel(floatModel!, onnxDir, 'decoder', L);
  }
  const truncated = use.encoder < full.encoder || use.decoder < full.decoder;
  log(`adapter: ${adapter}; precision ${precisions.join(', ')}; depth: encoder ${use.encoder}/${full.encoder}, decoder ${use.decoder}/${full.decoder}` +
    `${truncated ? ' (truncated)' : ''}; warm-up ${opts.warmup}, ≥ ${opts.iters} timed runs; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  // 0. Yardsticks from the kernel bench, same process: best GEMM and the shader copy.
  log('yardsticks (bench/cases): matmul 1024³, decode GEMV, shader copy');
  const yard: BenchRecord[] = [];
  const pick = (cs: typeof matmulCases.cases, v: string[]) => cs.filter((c) => v.includes(c.variant));
  for (const group of [pick(matmulCases.cases.filter((c) => c.shape === matmulCases.GEMM), ['ours-f32', 'ours-f16']),
    pick(matmulCases.cases.filter((c) => c.shape === matmulCases.DECODE), ['ours-f32', 'ours-f16']), pick(copyCases.cases, ['copy'])]) {
    yard.push(...(await runGroup(gpu0, group, { warmup: 1, iters: opts.iters, log })));
  }
  gpu0.destroy();
  const peakFlops = Math.max(...yard.filter((r) => r.op === 'matmul' && r.shape === matmulCases.GEMM && r.gflops).map((r) => r.gflops!));
  const copyGbps = yard.find((r) => r.op === 'copy')?.gbps ?? NaN;
  const gemv = Math.max(...yard.filter((r) => r.shape === matmulCases.DECODE && r.gbps).map((r) => r.gbps!));
  const yardsticks = { peakGemmGflops: peakFlops, copyGbps, gemvGbps: gemv };
  log(`  peak GEMM ${peakFlops} GFLOP/s, shader copy ${copyGbps} GB/s (read + written), decode GEMV ${gemv} GB/s of weights (best of f32/f16)`);
  const rates = (flops: number, bytes: number, ms: number) => ({
    gflops: r3(flops / ms / 1e6), gbps: r3(bytes / ms / 1e6),
    pctPeakFlops: r3((100 * flops / ms / 1e6) / peakFlops), pctCopy: r3((100 * bytes / ms / 1e6) / copyGbps),
  });

  let cfg!: GlmAsrConfig;
  let T = 0;
  let pos = 0;
  const transcribeOurs: { precision: string; audioSec: number; windows: number; tokens: number; promptTokens: number; ms: number }[] = [];
  for (const precision of precisions) {
    const gpu = await Gpu.create();
    const { provider } = await modelProvider(checkpoints.get(precision)!.ours, opts.encLayers, opts.decLayers);
    log(`precision ${precision}: ${checkpoints.get(precision)!.ours}`);
    // 1. Load.
    const peaks = new StagePeaks(gpu);
    peaks.start();
    const loadMeter = LoadMeter.start();
    const t0 = performance.now();
    const asr = await GlmAsr.load(provider, { gpu, precision: precision as WeightPrecision, maxBeams: Math.max(4, ...opts.beams) });
    const loadMs = performance.now() - t0;
    cfg = asr.config;
    const w = asr.weights;
    const C = costs(cfg, bytesPerWeight(precision));
    const base = { engine: 'ours' as Engine, precision, adapter, extrapolated: false };
    if (has('load')) {
      records.push({
        ...base, stage: 'load', shape: { weightBytes: w.bytes }, medianMs: r3(loadMs), iters: 1, warmup: 0,
        layers: { encoder: use.encoder, decoder: use.decoder }, gbps: r3(w.bytes / loadMs / 1e6), ...peaks.stop(), load: loadMeter.stop(),
      });
      log(`load: ${(loadMs / 1000).toFixed(1)} s, ${(w.bytes / 2 ** 20).toFixed(0)} MiB of weights`);
    } else peaks.stop();

    const tokensPerWindow = encoderFrames(cfg) / cfg.projector.mergeFactor;
    const prompt = buildTranscriptionPrompt(asr.tokenizer, tokensPerWindow, { audioTokenId: cfg.ids.audioTokenId });
    T = prompt.ids.length;
    pos = opts.decodePos ?? T + 50;
    const sliced = (enc: number, dec: number): GlmAsrWeights => ({ ...w, encoderLayers: w.encoderLayers.slice(0, enc), decoderLayers: w.decoderLayers.slice(0, dec) });

    // 2. Encoder window: mel [1, 128, 3000] → audio embeddings [375, 2048] (conv front end, layers, norm, projector).
    //    The depths of the fit are timed round-robin, so that a change in machine load hits them alike.
    if (has('encoder-window')) {
      const fe = cfg.frontEnd;
      const dir = join(onnxDir, `encoder-L${use.encoder}`);
      const checkFile = join(dir, `encoder-L${use.encoder}.check.json`);
      const melData = existsSync(checkFile)
        ? new Float32Array(readFileSync(join(dir, `encoder-L${use.encoder}.in.mel.bin`)).buffer.slice(0))
        : seededUniform(fe.melBins * fe.nFrames, 7, 1);
      const mel = gpu.upload('bench.mel', melData, [1, fe.melBins, fe.nFrames], 'f32');
      const Ls = depths(use.encoder, full.encoder);
      const outs = Ls.map((L) => gpu.tensor(`bench.audio.L${L}`, [tokensPerWindow, cfg.decoder.hidden], 'f32'));
      peaks.start();
      log(`encoder-window, ${Ls.join(' and ')} layer(s):`);
      const rs = await timeInterleaved(Ls.map((L, i) => {
        const wts = sliced(L, use.decoder);
        return {
          name: `encoder L=${L}`,
          run: async () => {
            const rec = new Recorder(gpu, 'bench encoder');
            encodeAudio(rec, wts, cfg, mel, 1, outs[i]);
            rec.submit();
            await gpu.sync();
          },
        };
      }));
      const mem = peaks.stop();
      let check: unknown;
      if (existsSync(checkFile)) {
        const want = new Float32Array(readFileSync(join(dir, `encoder-L${use.encoder}.ref.audio_embeddings.bin`)).buffer.slice(0));
        const e = relL2(await gpu.readF32(outs[0]), want);
        check = { vsPytorchReference: r3(e), ok: e <= (precision === 'f32' ? 1e-4 : precision === 'f16' ? 1e-2 : 5e-2) };
        log(`  ours vs PyTorch reference (same mel, ${use.encoder} layers): rel-L2 ${e.toExponential(2)}`);
      }
      Ls.forEach((L, i) => {
        const r = rs[i];
        const c = C.encoder(L);
        records.push({
          ...base, stage: 'encoder-window', shape: { windows: 1, frames: encoderFrames(cfg), melFrames: fe.nFrames }, medianMs: r.medianMs, minMs: r.minMs, cpuMs: r.cpuMs, times: r.times, cpuTimes: r.cpuTimes,
          iters: r.iters, warmup: opts.warmup, layers: { encoder: L, decoder: use.decoder }, ...rates(c.flops, c.bytes, r.medianMs),
          ...mem, load: r.load, check: i === 0 ? check : undefined,
        });
      });
      gpu.release(mel, ...outs);
    }

    // 3. Prefill: the 30 s prompt (375 audio tokens + the template's fixed tokens), beam row 0.
    if (has('prefill')) {
      // Prompt embeddings (values do not change the cost; uploaded so that any weight format works).
      const emb = gpu.upload('bench.prompt.emb', seededUniform(T * cfg.decoder.hidden, 3, 1), [T, cfg.decoder.hidden], 'f32');
      const Ls = depths(use.decoder, full.decoder);
      const decs = Ls.map((L) => new Decoder(gpu, sliced(use.encoder, L), cfg, 1, T + 8));
      peaks.start();
      log(`prefill ${T} tokens, ${Ls.join(' and ')} layer(s):`);
      const rs = await timeInterleaved(Ls.map((L, i) => ({
        name: `prefill L=${L}`,
        run: async () => {
          const rec = new Recorder(gpu, 'bench prefill');
          decs[i].prefill(rec, emb, T);
          rec.submit();
          await gpu.sync();
        },
      })));
      const mem = peaks.stop();
      Ls.forEach((L, i) => {
        const r = rs[i];
        const c = C.prefill(L, T);
        records.push({
          ...base, stage: 'prefill', shape: { tokens: T, audioTokens: tokensPerWindow }, medianMs: r.medianMs, minMs: r.minMs, cpuMs: r.cpuMs, times: r.times, cpuTimes: r.cpuTimes, iters: r.iters,
          warmup: opts.warmup, layers: { encoder: use.encoder, decoder: L }, ...rates(c.flops, c.bytes, r.medianMs), ...mem, load: r.load,
        });
      });
      decs.forEach((d) => d.dispose());
      gpu.release(emb);
    }

    // 4. Decode step at KV position `pos`: greedy (step + argmax id read back) and beam B (step + top-2B
    //    candidates read back + KV reorder of the generated positions), i.e. the per-token cost of each search.
    if (has('decode-step')) {
      for (const B of opts.beams) {
        const Ls = depths(use.decoder, full.decoder);
        const ids = gpu.upload('bench.step.ids', Uint32Array.from({ length: B }, (_, i) => 100 + 37 * i), [B], 'u32');
        const best = gpu.tensor('bench.step.best', [B], 'u32');
        const src = gpu.upload('bench.step.src', Uint32Array.from({ length: B }, (_, i) => (i + 1) % B), [B], 'u32');
        const scores = new Float32Array(B).fill(-1);
        const decs: Decoder[] = [];
        for (const L of Ls) {
          const dec = new Decoder(gpu, sliced(use.encoder, L), cfg, B, pos + 8);
          // As after a prefill of T tokens (promptLength is what reorder() skips); the cache content is zeros.
          (dec as unknown as { promptLength: number }).promptLength = T;
          if (B > 1) {
            // The first reorder after a prefill copies the whole prompt to every beam; later ones only the generated
            // positions. Do the first one untimed.
            dec.length = pos;
            const rr = new Recorder(gpu, 'bench first reorder');
            dec.reorder(rr, src);
            rr.submit();
            await gpu.sync();
          }
          decs.push(dec);
        }
        peaks.start();
        log(`decode-step, ${B === 1 ? 'greedy' : `beam ${B}`}, position ${pos}, ${Ls.join(' and ')} layer(s):`);
        const rs = await timeInterleaved(Ls.map((L, i) => ({
          name: `step B=${B} L=${L}`,
          run: async () => {
            const dec = decs[i];
            dec.length = pos;
            const rec = new Recorder(gpu, 'bench step');
            dec.step(rec, ids, B);
            if (B === 1) argmax(rec, dec.logits.rows(0, 1), best);
            rec.submit();
            if (B === 1) await gpu.readU32(best, 1);
            else {
              await topKLogSoftmax(gpu, dec.logits.rows(0, B), scores, { k: 2 * B });
              const rr = new Recorder(gpu, 'bench reorder');
              dec.reorder(rr, src);
              rr.submit();
              await gpu.sync();
            }
          },
        })));
        const mem = peaks.stop();
        Ls.forEach((L, i) => {
          const r = rs[i];
          const c = C.step(L, B, pos);
          records.push({
            ...base, stage: 'decode-step', shape: { beams: B, pos, search: B === 1 ? 'greedy' : 'beam' }, medianMs: r.medianMs, minMs: r.minMs, cpuMs: r.cpuMs, times: r.times, cpuTimes: r.cpuTimes,
            iters: r.iters, warmup: opts.warmup, layers: { encoder: use.encoder, decoder: L }, ...rates(c.flops, c.bytes, r.medianMs),
            msPerToken: r.medianMs, ...mem, load: r.load,
          });
        });
        gpu.release(ids, best, src);
        decs.forEach((d) => d.dispose());
      }
    }

    // 5. Transcribe: synthetic audio of each length, greedy, exactly maxNewTokens tokens (eos disabled).
    if (has('transcribe')) {
      for (let i = 0; i < opts.audio.length; i++) {
        const sec = opts.audio[i];
        const samples = syntheticAudio(sec);
        peaks.start();
        log(`transcribe ${sec} s, maxNewTokens ${opts.tokens[i]}:`);
        const meter = LoadMeter.start();
        const tr = await asr.transcribe({ samples, sampleRate: 16000 }, { maxNewTokens: opts.tokens[i], beams: 1 });
        const load = meter.stop();
        const windows = Math.max(1, Math.ceil(samples.length / cfg.frontEnd.nSamples));
        const audioTokens = Array.from({ length: windows }, (_, k) => asr.audioTokens(Math.min(cfg.frontEnd.nSamples, samples.length - k * cfg.frontEnd.nSamples)))
          .reduce((a, b) => a + b, 0);
        const promptTokens = T - tokensPerWindow + audioTokens;
        log(`  ${(tr.timings.total / 1000).toFixed(1)} s (encode+prefill ${(tr.timings.encode / 1000).toFixed(1)} s, generate ${(tr.timings.generate / 1000).toFixed(1)} s, ${tr.tokens.length} tokens)`);
        transcribeOurs.push({ precision, audioSec: sec, windows, tokens: tr.tokens.length, promptTokens, ms: tr.timings.total });
        records.push({
          ...base, stage: 'transcribe', shape: { audioSec: sec, windows, maxNewTokens: opts.tokens[i], tokens: tr.tokens.length, promptTokens, beams: 1 },
          medianMs: r3(tr.timings.total), iters: 1, warmup: 0, layers: { encoder: use.encoder, decoder: use.decoder },
          rtf: r3(tr.timings.total / 1000 / sec), timings: Object.fromEntries(Object.entries(tr.timings).map(([k, v]) => [k, r3(v)])),
          ...peaks.stop(), load,
          note: tr.tokens.length < opts.tokens[i] ? `stopped after ${tr.tokens.length} tokens (the random model produced the stand-in eos)` : undefined,
        });
      }
    }
    const gpuErrors = [...gpu.errors];
    asr.dispose();
    gpu.destroy();
    if (gpuErrors.length) throw new Error(`GPU errors during the benchmark: ${gpuErrors.join('; ')}`);

  }

  // 6. Peers: same stages, same depths, same random weights, in child processes (after our model is freed).
  const peerEncoder = new Map<string, number>();
  const peerStep = new Map<string, number>();
  for (const engine of peers) {
    const ep = engine === 'ort-webgpu' ? 'webgpu' : 'cpu';
    const peerBase = { engine, precision: 'f32', extrapolated: false };
    if (has('encoder-window')) {
      const Ls = depths(use.encoder, full.encoder);
      const files = [];
      for (const L of Ls) files.push(await onnxModel(floatModel!, onnxDir, 'encoder', L));
      log(`${engine} encoder-window, ${Ls.join(' and ')} layer(s):`);
      const os = await runOrt(files, ep, []);
      Ls.forEach((L, i) => {
        const o = os[i];
        const c = costs(cfg, 4).encoder(L);
        if (o.check?.ok) peerEncoder.set(`${engine}/${L}`, o.medianMs);
        records.push({
          ...peerBase, stage: 'encoder-window', adapter: o.adapter, shape: { windows: 1, frames: encoderFrames(cfg), melFrames: cfg.frontEnd.nFrames },
          medianMs: o.medianMs, minMs: o.minMs, cpuMs: o.cpuMs, times: o.times, cpuTimes: o.cpuTimes, iters: o.iters, warmup: o.warmup, layers: { encoder: L, decoder: use.decoder },
          ...rates(c.flops, c.bytes, o.medianMs), peakRssBytes: o.peakRssBytes, load: o.load, check: o.check, sessionMs: o.sessionMs,
          note: o.check && !o.check.ok ? 'OUTPUT WRONG vs the PyTorch reference: timing not comparable' : undefined,
        });
      });
    }
    if (has('decode-step')) {
      for (const B of opts.beams) {
        const Ls = depths(use.decoder, full.decoder);
        const files = [];
        for (const L of Ls) files.push(await onnxModel(floatModel!, onnxDir, 'decoder', L));
        log(`${engine} decode-step, beams ${B}, position ${pos}, ${Ls.join(' and ')} layer(s):`);
        const os = await runOrt(files, ep, ['--beams', String(B), '--past', String(pos)]);
        Ls.forEach((L, i) => {
          const o = os[i];
          const c = costs(cfg, 4).step(L, B, pos);
          if (o.check?.ok) peerStep.set(`${engine}/${B}/${L}`, o.medianMs);
          records.push({
            ...peerBase, stage: 'decode-step', adapter: o.adapter, shape: { beams: B, pos, search: 'step only (logits to the host)' },
            medianMs: o.medianMs, minMs: o.minMs, cpuMs: o.cpuMs, times: o.times, cpuTimes: o.cpuTimes, iters: o.iters, warmup: o.warmup, layers: { encoder: use.encoder, decoder: L },
            ...rates(c.flops, c.bytes, o.medianMs), msPerToken: o.medianMs, peakRssBytes: o.peakRssBytes, load: o.load, check: o.check,
            sessionMs: o.sessionMs, note: o.check && !o.check.ok ? 'OUTPUT WRONG vs the PyTorch reference: timing not comparable' : undefined,
          });
        });
      }
    }
  }

  // 7. Ratios ours / theirs (same stage, shape and depth) and full-depth extrapolations.
  for (const r of records.filter((x) => x.engine === 'ours' && !x.extrapolated)) {
    for (const peer of ['ort-webgpu', 'ort-cpu'] as const) {
      const key = r.stage === 'encoder-window' ? `${peer}/${r.layers.encoder}` : `${peer}/${r.shape.beams}/${r.layers.decoder}`;
      const theirs = r.stage === 'encoder-window' ? peerEncoder.get(key) : r.stage === 'decode-step' ? peerStep.get(key) : undefined;
      if (theirs) r[peer === 'ort-webgpu' ? 'vsOrtWebgpu' : 'vsOrtCpu'] = r3(r.medianMs / theirs);
      const theirCpu = records.find((x) => x.engine === peer && !x.extrapolated && x.stage === r.stage && (x.check as { ok?: boolean } | undefined)?.ok !== false
        && (r.stage === 'encoder-window' ? x.layers.encoder === r.layers.encoder : x.layers.decoder === r.layers.decoder && x.shape.beams === r.shape.beams))?.cpuMs as number | undefined;
      if (theirs && theirCpu && r.cpuMs) r[peer === 'ort-webgpu' ? 'vsOrtWebgpuCpuTime' : 'vsOrtCpuCpuTime'] = r3((r.cpuMs as number) / theirCpu);
    }
  }
  const extrapolate = (stage: Stage, engine: Engine, precision: string, shapeMatch: (r: ModelRecord) => boolean, part: 'encoder' | 'decoder', fullN: number) => {
    const rs = records.filter((r) => r.stage === stage && r.engine === engine && r.precision === precision && !r.extrapolated && shapeMatch(r)
      && (r.check as { ok?: boolean } | undefined)?.ok !== false);
    const byDepth = rs.map((r) => ({ layers: r.layers[part], ms: r.medianMs, r })).sort((a, b) => a.layers - b.layers);
    if (byDepth.length < 2 || byDepth[byDepth.length - 1].layers >= fullN) return undefined;
    const [a, b] = [byDepth[0], byDepth[byDepth.length - 1]];
    const f = pairedFit(a.layers, b.layers, fullN, a.r.times as number[] | undefined, b.r.times as number[] | undefined, a.ms, b.ms);
    const ms = f.fullMs;
    const src = b.r;
    const layers = { ...src.layers, [part]: fullN };
    const c = costs(cfg, bytesPerWeight(precision));
    const cost = stage === 'encoder-window' ? c.encoder(fullN) : stage === 'prefill' ? c.prefill(fullN, T) : c.step(fullN, Number(src.shape.beams), pos);
    const ca = a.r.cpuMs as number | undefined;
    const cb = b.r.cpuMs as number | undefined;
    const cpuMs = ca !== undefined && cb !== undefined
      ? pairedFit(a.layers, b.layers, fullN, a.r.cpuTimes as number[] | undefined, b.r.cpuTimes as number[] | undefined, ca, cb).fullMs : undefined;
    const rec: ModelRecord = {
      stage, engine, precision, adapter: src.adapter, shape: src.shape, medianMs: ms, cpuMs, iters: src.iters, warmup: src.warmup,
      layers, extrapolated: true, fit: { measuredLayers: [a.layers, b.layers], perLayerMs: f.perLayerMs, fixedMs: f.fixedMs, method: f.method },
      ...rates(cost.flops, cost.bytes, ms), ...(stage === 'decode-step' ? { msPerToken: ms } : {}),
    };
    records.push(rec);
    return rec;
  };
  const extrap = new Map<string, ModelRecord>();
  const combos = [...precisions.map((p) => ['ours', p] as const), ...peers.map((e) => [e, 'f32'] as const)];
  for (const [engine, precision] of combos) {
    const e = extrapolate('encoder-window', engine, precision, () => true, 'encoder', full.encoder);
    if (e) extrap.set(`enc/${engine}/${precision}`, e);
    if (engine === 'ours') {
      const p = extrapolate('prefill', engine, precision, () => true, 'decoder', full.decoder);
      if (p) extrap.set(`prefill/${engine}/${precision}`, p);
    }
    for (const B of opts.beams) {
      const st = extrapolate('decode-step', engine, precision, (r) => r.shape.beams === B, 'decoder', full.decoder);
      if (st) extrap.set(`step/${B}/${engine}/${precision}`, st);
    }
  }
  for (const [k, rec] of extrap) {
    if (rec.engine !== 'ours') continue;
    for (const peer of ['ort-webgpu', 'ort-cpu'] as const) {
      const theirs = extrap.get(k.replace(/ours\/\w+$/, `${peer}/f32`));
      if (theirs) rec[peer === 'ort-webgpu' ? 'vsOrtWebgpu' : 'vsOrtCpu'] = r3(rec.medianMs / theirs.medianMs);
      if (theirs?.cpuMs && rec.cpuMs) rec[peer === 'ort-webgpu' ? 'vsOrtWebgpuCpuTime' : 'vsOrtCpuCpuTime'] = r3((rec.cpuMs as number) / (theirs.cpuMs as number));
    }
  }
  // Transcribe at full depth: the measured run plus the missing layers' cost from the per-layer fits above
  // (encoder per window; prefill per layer scaled by prompt length; decode per layer per token).
  for (const t of transcribeOurs) {
    if (!truncated) break;
    const encFit = extrap.get(`enc/ours/${t.precision}`)?.fit;
    const preFit = extrap.get(`prefill/ours/${t.precision}`)?.fit;
    const stepFit = extrap.get(`step/1/ours/${t.precision}`)?.fit;
    const missEnc = full.encoder - use.encoder;
    const missDec = full.decoder - use.decoder;
    if ((missEnc && !encFit) || (missDec && (!preFit || !stepFit))) continue;
    const add = (encFit ? missEnc * encFit.perLayerMs * t.windows : 0)
      + (preFit ? missDec * preFit.perLayerMs * (t.promptTokens / T) : 0) + (stepFit ? missDec * stepFit.perLayerMs * t.tokens : 0);
    const ms = r3(t.ms + add);
    records.push({
      engine: 'ours', precision: t.precision, adapter, stage: 'transcribe',
      shape: { audioSec: t.audioSec, windows: t.windows, tokens: t.tokens, promptTokens: t.promptTokens, beams: 1 },
      medianMs: ms, iters: 1, warmup: 0, layers: { encoder: full.encoder, decoder: full.decoder }, extrapolated: true, rtf: r3(ms / 1000 / t.audioSec),
      fit: { measuredLayers: [use.encoder, use.decoder], perLayerMs: NaN, fixedMs: t.ms, method: 'measured truncated run + missing layers × per-layer costs of the encoder-window (per window), prefill (× prompt tokens / 30 s prompt) and greedy decode-step (per token) fits' },
    });
  }
  // INT8 vs f32 decode (same run): speed-up of the decode step per beam count and depth.
  if (precisions.includes('int8') && precisions.includes('f32')) {
    for (const r of records.filter((x) => x.engine === 'ours' && x.precision === 'int8' && x.stage === 'decode-step')) {
      const f = records.find((x) => x.engine === 'ours' && x.precision === 'f32' && x.stage === 'decode-step' && x.extrapolated === r.extrapolated
        && x.shape.beams === r.shape.beams && x.layers.decoder === r.layers.decoder);
      if (f) {
        r.speedupVsF32 = r3(f.medianMs / r.medianMs);
        if (f.cpuMs && r.cpuMs) r.speedupVsF32CpuTime = r3((f.cpuMs as number) / (r.cpuMs as number));
      }
    }
  }

  for (const r of records) {
    r.yardsticks = yardsticks;
    for (const k of Object.keys(r)) if (r[k] === undefined) delete r[k];
  }
  if (opts.out) writeFileSync(opts.out, `${JSON.stringify(records, null, 1)}\n`);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(records, null, 1)}\n`);
    return;
  }
  console.log(formatTable(records));
  console.log(`\nyardsticks (same run, bench/cases): peak GEMM ${peakFlops} GFLOP/s, shader copy ${copyGbps} GB/s read + written, decode GEMV ${gemv} GB/s of weights`);
  console.log(`load average after the run: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; "other cores" = CPU used by other processes at nice 0 during the timed loop`);
  const lines = targets(records);
  if (lines.length) console.log(`\nTargets:\n  ${lines.join('\n  ')}`);
}

function targets(rs: ModelRecord[]): string[] {
  const out: string[] = [];
  for (const r of rs.filter((x) => x.engine === 'ours' && x.vsOrtWebgpu !== undefined)) {
    const what = r.stage === 'encoder-window' ? 'encoder window' : `decode step (${r.shape.search}, ${r.shape.beams} beam${r.shape.beams === 1 ? '' : 's'})`;
    const depth = r.stage === 'encoder-window' ? `${r.layers.encoder} encoder layers` : `${r.layers.decoder} decoder layers`;
    const cpu = r.vsOrtWebgpuCpuTime !== undefined ? ` (CPU-time ratio ${r.vsOrtWebgpuCpuTime})` : '';
    out.push(`ours (${r.precision}) faster than ORT WebGPU (f32) on the ${what}, ${depth}${r.extrapolated ? ' (EXTRAPOLATED)' : ''}: ours/theirs = ${r.vsOrtWebgpu}${cpu} — ${r.vsOrtWebgpu! < 1 ? 'MET' : 'NOT MET'}`);
  }
  for (const r of rs.filter((x) => x.speedupVsF32 !== undefined)) {
    const cpu = r.speedupVsF32CpuTime !== undefined ? ` (CPU-time ${r.speedupVsF32CpuTime}x)` : '';
    out.push(`INT8 decode ≥ 1.5× f32 decode (${r.shape.search}, ${r.shape.beams} beam(s), ${r.layers.decoder} decoder layers${r.extrapolated ? ', EXTRAPOLATED' : ''}): ${r.speedupVsF32}x${cpu} — ${(r.speedupVsF32 as number) >= 1.5 ? 'MET' : 'NOT MET'}`);
  }
  return out;
}

function formatTable(rs: ModelRecord[]): string {
  const mib = (b?: number) => (b === undefined ? '' : (b / 2 ** 20).toFixed(0));
  const shape = (s: Record<string, unknown>) => Object.entries(s).filter(([k]) => k !== 'search').map(([k, v]) => `${k}=${v}`).join(' ');
  const header = ['stage', 'engine', 'prec', 'depth enc/dec', 'shape', 'median ms', 'cpu ms', 'ms/token', 'GFLOP/s (%peak)', 'GB/s (%copy)', 'RTF', 'GPU MiB', 'RSS MiB', 'other cores', 'check', 'ours/ORT-webgpu', '(cpu time)', 'ours/ORT-cpu'];
  const rows = rs.map((r) => [
    r.stage, r.engine, r.precision, `${r.layers.encoder}/${r.layers.decoder}${r.extrapolated ? ' EXTRAP' : ''}`, shape(r.shape),
    `${r.medianMs.toFixed(r.medianMs < 100 ? 1 : 0)}${r.extrapolated ? '' : ` (N=${r.iters})`}`,
    r.cpuMs !== undefined ? String(r.cpuMs) : '',
    r.msPerToken !== undefined ? String(r.msPerToken) : '',
    r.gflops !== undefined ? `${r.gflops} (${r.pctPeakFlops}%)` : '',
    r.gbps !== undefined ? `${r.gbps}${r.pctCopy !== undefined ? ` (${r.pctCopy}%)` : ' file'}` : '',
    r.rtf !== undefined ? String(r.rtf) : '',
    mib(r.peakGpuBytes), mib(r.peakRssBytes),
    r.load ? String(r.load.otherCores) : '',
    r.check === undefined ? '' : (r.check as { ok: boolean }).ok ? 'ok' : 'WRONG',
    r.vsOrtWebgpu !== undefined ? String(r.vsOrtWebgpu) : '',
    r.vsOrtWebgpuCpuTime !== undefined ? String(r.vsOrtWebgpuCpuTime) : '',
    r.vsOrtCpu !== undefined ? String(r.vsOrtCpu) : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  const adapters = [...new Set(rs.map((r) => `${r.engine}: ${r.adapter}`))];
  return [`adapters: ${adapters.join('; ')}`, line(header), line(widths.map((x) => '-'.repeat(x))), ...rows.map(line)].join('\n');
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
