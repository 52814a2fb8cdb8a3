/**
 * Model benchmark at the real model's size, side by side with ONNX Runtime (issue: benchmark at the real size).
 *
 *   npm run -s bench -- [--json] [--out FILE] [--model DIR] [--precision f32|f16|int8|int4[,...]] [--stages LIST]
 *                       [--iters N] [--warmup N] [--min-time S] [--encoder-layers N] [--decoder-layers N]
 *                       [--peers LIST|none] [--peer-model DIR] [--beams 1,4] [--decode-pos P] [--audio 5,30,120]
 *                       [--tokens 20,90,360] [--batch-rows 1,4,8] [--onnx-dir DIR] [--no-fit]
 *
 *   --model DIR         checkpoint folder (default .cache/models/glm-asr-nano-2512-random: the full-size random
 *                       checkpoint, 4.5 GB BF16; make it with
 *                       /usr/bin/python3 weights-tools/make_checkpoint.py --preset glm-asr-nano-2512 \
 *                         --out .cache/models/glm-asr-nano-2512-random --no-check)
 *   --precision P       weight storage: f32 (default on CPU adapters), f16 (default on GPUs), int8, or a comma list
 *                       (e.g. f32,int8: each is loaded and measured in turn, same run). int8 uses an INT8 checkpoint:
 *                       --model itself when it is one, else <model>-int8 next to it, made with `npm run quantize`
 *                       (docs/int8.md) when missing. int4 quantises a float checkpoint at load (docs/quantization.md)
 *                       or loads a 4-bit one. The peers always run the float checkpoint (f32 ONNX); when
 *                       --model is an INT8 checkpoint, name the float one with --peer-model DIR
 *   --stages LIST       comma list of load, encoder-window, prefill, decode-step, decode-batch, transcribe (default:
 *                       all)
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
 *                       B rows + top-2B candidates read back + KV reorder), through the engine's own search model
 *                       (GpuSearchModel, what greedy and beamSearch drive); default 1,4
 *   --batch-rows LIST   decode-batch: R greedy sequences at positions P, P−7, P−14, … stepped by ONE batched
 *                       decoder step (continuous batching, docs/batching.md) vs the R steps they take one by one;
 *                       default 1,4,8 (at the loaded decoder depth only)
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
 * --decoder-layers 8 for the side-by-side run (docs/benchmarks.md). The same command runs unchanged on a machine
 * with a GPU (scripts/with-gpu-env.sh leaves a real adapter alone).
 *
 * Layout: this file reads the options and runs the stages in order; bench/model/ holds one function per stage
 * (stages.ts), the peers (peers.ts), the figures derived afterwards (derive.ts) and the report (report.ts).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Gpu } from '../src/gpu';
import type { GlmAsrConfig } from '../src/models/glm-asr/config';
import { checkpointsFor, modelProvider, type Depths } from './model/checkpoint';
import { derive } from './model/derive';
import { StagePeaks } from './model/measure';
import { DEFAULT_MODEL, log, parseOptions, type BenchOptions, type Stage } from './model/options';
import { exportPeerModels, measurePeers } from './model/peers';
import type { ModelRecord, Yardsticks } from './model/records';
import { printReport } from './model/report';
import {
  loadModel, measureBatchedStep, measureDecodeStep, measureEncoderWindow, measurePrefill, measureTranscribe,
  measureYardsticks, promptOf,
  type OursRun, type TranscribeRun,
} from './model/stages';

export type { ModelRecord } from './model/records';

/** What every precision's run shares: the depths, the yardsticks, where the ONNX reference is. */
interface Plan {
  opts: BenchOptions;
  has: (s: Stage) => boolean;
  adapter: string;
  full: Depths;
  use: Depths;
  /** Depths each stage times: the loaded one, and 1 for the linear fit when truncated (unless --no-fit). */
  encoderDepths: number[];
  decoderDepths: number[];
  yardsticks: Yardsticks;
  onnxDir: string;
}

/** Our engine at one precision, on a Gpu of its own: load, then each selected stage in turn. */
async function measureOurs(plan: Plan, precision: string, dir: string):
  Promise<{ records: ModelRecord[]; runs: TranscribeRun[]; cfg: GlmAsrConfig; promptTokens: number; pos: number }> {
  const { opts, has } = plan;
  const gpu = await Gpu.create();
  const { provider } = await modelProvider(dir, opts.encLayers, opts.decLayers);
  log(`precision ${precision}: ${dir}`);
  const { asr, record } = await loadModel(gpu, provider, precision, Math.max(4, ...opts.beams), plan.adapter, plan.use);
  try {
    const o: OursRun = {
      timing: opts, gpu, asr, precision, adapter: plan.adapter, use: plan.use, encoderDepths: plan.encoderDepths,
      decoderDepths: plan.decoderDepths, yardsticks: plan.yardsticks, peaks: new StagePeaks(gpu),
      ...promptOf(asr, opts.decodePos), onnxDir: plan.onnxDir,
    };
    const records = has('load') ? [record] : [];
    if (has('encoder-window')) records.push(...(await measureEncoderWindow(o)));
    if (has('prefill')) records.push(...(await measurePrefill(o)));
    if (has('decode-step')) for (const B of opts.beams) records.push(...(await measureDecodeStep(o, B)));
    if (has('decode-batch')) for (const R of opts.batchRows) records.push(...(await measureBatchedStep(o, R)));
    const transcribed = has('transcribe') ? await measureTranscribe(o, opts.audio, opts.tokens) : undefined;
    if (transcribed) records.push(...transcribed.records);
    if (gpu.errors.length) throw new Error(`GPU errors during the benchmark: ${gpu.errors.join('; ')}`);
    return { records, runs: transcribed?.runs ?? [], cfg: asr.config, promptTokens: o.promptTokens, pos: o.pos };
  } finally {
    asr.dispose();
    gpu.destroy();
  }
}

/** Attaches the yardsticks to every record, drops empty fields, writes --out, prints the JSON or the report. */
function finish(opts: BenchOptions, records: ModelRecord[], yardsticks: Yardsticks): void {
  for (const r of records) {
    r.yardsticks = yardsticks;
    for (const k of Object.keys(r)) if (r[k] === undefined) delete r[k];
  }
  if (opts.out) writeFileSync(opts.out, `${JSON.stringify(records, null, 1)}\n`);
  if (opts.json) process.stdout.write(`${JSON.stringify(records, null, 1)}\n`);
  else printReport(records, yardsticks);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.help) {
    const doc = readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0];
    process.stdout.write(doc.replace(/^\/\*\*\n/, '').replace(/^ \* ?/gm, ''));
    return;
  }
  if (!existsSync(join(opts.model, 'config.json'))) {
    throw new Error(`no checkpoint at ${opts.model}. Make the full-size random one (4.5 GB, about 70 s) with\n`
      + '  /usr/bin/python3 weights-tools/make_checkpoint.py --preset glm-asr-nano-2512 '
      + `--out ${DEFAULT_MODEL} --no-check\n`
      + 'or pass --model DIR (a folder in the Hugging Face layout).');
  }
  const has = (s: Stage) => opts.stages.includes(s);
  const { full, use } = await modelProvider(opts.model, opts.encLayers, opts.decLayers);
  const { adapter, cpuAdapter, ...yardsticks } = await measureYardsticks(opts.iters);
  const precisions = opts.precisions ?? [cpuAdapter ? 'f32' : 'f16'];
  const checkpoints = new Map<string, { ours: string; float: string | undefined }>();
  for (const p of precisions) checkpoints.set(p, await checkpointsFor(opts.model, opts.peerModel, p));
  const floatModel = [...checkpoints.values()].map((c) => c.float).find((f) => f !== undefined);
  const peers = floatModel ? opts.peers : [];
  if (opts.peers.length && !floatModel) {
    log('peers skipped: --model is an INT8 checkpoint; name the float one with --peer-model DIR');
  }
  const depths = (n: number, fullN: number) => (opts.fit && n < fullN && n >= 2 ? [n, 1] : [n]);
  const plan: Plan = {
    opts, has, adapter, full, use, encoderDepths: depths(use.encoder, full.encoder),
    decoderDepths: depths(use.decoder, full.decoder), yardsticks,
    onnxDir: opts.onnxDir ?? join('.cache', 'onnx', basename(resolve(floatModel ?? opts.model))),
  };
  const peerDepths = {
    encoderDepths: has('encoder-window') ? plan.encoderDepths : undefined,
    decoderDepths: has('decode-step') ? plan.decoderDepths : undefined,
  };
  // Export first: the exporter also writes the PyTorch reference that our encoder is checked against.
  if (peers.length) await exportPeerModels({ floatModel: floatModel!, onnxDir: plan.onnxDir, ...peerDepths });
  const truncated = use.encoder < full.encoder || use.decoder < full.decoder;
  log(`adapter: ${adapter}; precision ${precisions.join(', ')}; depth: encoder ${use.encoder}/${full.encoder}, decoder `
    + `${use.decoder}/${full.decoder}${truncated ? ' (truncated)' : ''}; warm-up ${opts.warmup}, `
    + `≥ ${opts.iters} timed runs; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const records: ModelRecord[] = [];
  const runs: TranscribeRun[] = [];
  let shared: { cfg: GlmAsrConfig; promptTokens: number; pos: number } | undefined;
  for (const precision of precisions) {
    const ours = await measureOurs(plan, precision, checkpoints.get(precision)!.ours);
    records.push(...ours.records);
    runs.push(...ours.runs);
    shared = { cfg: ours.cfg, promptTokens: ours.promptTokens, pos: ours.pos };
  }
  // The peers run after our model is freed: same stages, depths and random weights, in child processes.
  if (peers.length) {
    records.push(...(await measurePeers({
      engines: peers, timing: opts, floatModel: floatModel!, onnxDir: plan.onnxDir, cfg: shared!.cfg, use,
      ...peerDepths, beams: opts.beams, pos: shared!.pos, yardsticks,
    })));
  }
  derive(records, runs, {
    ...shared!, adapter, full, use, truncated, precisions, peers, beams: opts.beams, yardsticks,
  });
  finish(opts, records, yardsticks);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
