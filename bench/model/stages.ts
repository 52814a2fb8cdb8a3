/**
 * Our engine's stages, one function each, in the order the bench runs them: the yardsticks, load, encoder
 * window, prefill, decode step, transcribe. Each returns its records (docs/benchmarks.md says what each times).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gpu, Recorder } from '../../src/gpu';
import { Decoder, DecoderCache } from '../../src/models/glm-asr/decoder';
import { encodeAudio, encoderFrames } from '../../src/models/glm-asr/encoder';
import { GlmAsr, GpuSearchModel } from '../../src/models/glm-asr/transcriber';
import type { GlmAsrWeights, WeightPrecision } from '../../src/models/glm-asr/weights';
import { buildTranscriptionPrompt } from '../../src/tokenizer';
import * as copyCases from '../cases/copy';
import * as matmulCases from '../cases/matmul';
import { runGroup, seededUniform, type BenchCase } from '../lib';
import { LoadMeter } from '../peers/meter';
import type { Depths } from './checkpoint';
import { relL2, StagePeaks, syntheticAudio, timeInterleaved, type TimingOptions } from './measure';
import { log } from './options';
import { bytesPerWeight, costs, r3, rates, type ModelRecord, type Yardsticks } from './records';

/** Best 1024³ GEMM, the decode GEMV and the shader copy from the kernel bench (bench/cases), in a Gpu of their own. */
export async function measureYardsticks(iters: number): Promise<Yardsticks & { adapter: string; cpuAdapter: boolean }> {
  const gpu = await Gpu.create();
  log('yardsticks (bench/cases): matmul 1024³, decode GEMV, shader copy');
  const pick = (cs: BenchCase[], variants: string[]) => cs.filter((c) => variants.includes(c.variant));
  const matmul = (shape: typeof matmulCases.GEMM) => pick(matmulCases.cases.filter((c) => c.shape === shape),
    ['ours-f32', 'ours-f16']);
  const yard = [];
  for (const group of [matmul(matmulCases.GEMM), matmul(matmulCases.DECODE), pick(copyCases.cases, ['copy'])]) {
    yard.push(...(await runGroup(gpu, group, { warmup: 1, iters, log })));
  }
  const adapter = gpu.describe();
  const cpuAdapter = gpu.caps.cpuAdapter;
  gpu.destroy();
  const peakGemmGflops = Math.max(...yard.filter((r) => r.op === 'matmul' && r.shape === matmulCases.GEMM && r.gflops)
    .map((r) => r.gflops!));
  const copyGbps = yard.find((r) => r.op === 'copy')?.gbps ?? NaN;
  const gemvGbps = Math.max(...yard.filter((r) => r.shape === matmulCases.DECODE && r.gbps).map((r) => r.gbps!));
  log(`  peak GEMM ${peakGemmGflops} GFLOP/s, shader copy ${copyGbps} GB/s (read + written), decode GEMV ${gemvGbps}`
    + ' GB/s of weights (best of f32/f16)');
  return { peakGemmGflops, copyGbps, gemvGbps, adapter, cpuAdapter };
}

/** One precision's model and what every stage of it needs. */
export interface OursRun {
  timing: TimingOptions;
  gpu: Gpu;
  asr: GlmAsr;
  precision: string;
  adapter: string;
  /** Loaded depth; the depths each stage times (loaded, and 1 for the fit when truncated). */
  use: Depths;
  encoderDepths: number[];
  decoderDepths: number[];
  yardsticks: Yardsticks;
  peaks: StagePeaks;
  /** Tokens of the 30 s prompt (one window's audio tokens + the template's), and the decode-step position. */
  promptTokens: number;
  pos: number;
  /** Where the ONNX export left the reference our encoder is checked against (if it ran). */
  onnxDir: string;
}

const base = (o: OursRun) => ({
  engine: 'ours' as const, precision: o.precision, adapter: o.adapter, extrapolated: false,
});

/** The first `enc` / `dec` layers of the loaded weights (the depths of a fit share one load). */
function sliced(w: GlmAsrWeights, enc: number, dec: number): GlmAsrWeights {
  return { ...w, encoderLayers: w.encoderLayers.slice(0, enc), decoderLayers: w.decoderLayers.slice(0, dec) };
}

/** 1. Load: `GlmAsr.load` of the checkpoint, with its peak memory. */
export async function loadModel(gpu: Gpu, provider: Parameters<typeof GlmAsr.load>[0], precision: string,
  maxBeams: number, adapter: string, use: Depths): Promise<{ asr: GlmAsr; record: ModelRecord }> {
  const peaks = new StagePeaks(gpu);
  peaks.start();
  const meter = LoadMeter.start();
  const t0 = performance.now();
  const asr = await GlmAsr.load(provider, { gpu, precision: precision as WeightPrecision, maxBeams });
  const ms = performance.now() - t0;
  const bytes = asr.weights.bytes;
  log(`load: ${(ms / 1000).toFixed(1)} s, ${(bytes / 2 ** 20).toFixed(0)} MiB of weights`);
  return {
    asr,
    record: {
      engine: 'ours', precision, adapter, extrapolated: false, stage: 'load', shape: { weightBytes: bytes },
      medianMs: r3(ms), iters: 1, warmup: 0, layers: { ...use }, gbps: r3(bytes / ms / 1e6), ...peaks.stop(),
      load: meter.stop(),
    },
  };
}

/** Prompt length of one 30 s window, and the decode-step position (`decodePos`, default prompt + 50). */
export function promptOf(asr: GlmAsr, decodePos: number | undefined): { promptTokens: number; pos: number } {
  const cfg = asr.config;
  const perWindow = encoderFrames(cfg) / cfg.projector.mergeFactor;
  const prompt = buildTranscriptionPrompt(asr.tokenizer, perWindow, { audioTokenId: cfg.ids.audioTokenId });
  return { promptTokens: prompt.ids.length, pos: decodePos ?? prompt.ids.length + 50 };
}

/**
 * 2. Encoder window: mel [1, 128, 3000] → audio embeddings [375, 2048] (conv front end, layers, norm, projector).
 * The depths of the fit are timed round-robin, so that a change in machine load hits them alike. With the ONNX
 * export's reference for the loaded depth, the output is checked against PyTorch on the same mel.
 */
export async function measureEncoderWindow(o: OursRun): Promise<ModelRecord[]> {
  const { gpu, asr, use } = o;
  const cfg = asr.config;
  const fe = cfg.frontEnd;
  const perWindow = encoderFrames(cfg) / cfg.projector.mergeFactor;
  const dir = join(o.onnxDir, `encoder-L${use.encoder}`);
  const checkFile = join(dir, `encoder-L${use.encoder}.check.json`);
  const melData = existsSync(checkFile)
    ? new Float32Array(readFileSync(join(dir, `encoder-L${use.encoder}.in.mel.bin`)).buffer.slice(0))
    : seededUniform(fe.melBins * fe.nFrames, 7, 1);
  const mel = gpu.upload('bench.mel', melData, [1, fe.melBins, fe.nFrames], 'f32');
  const Ls = o.encoderDepths;
  const outs = Ls.map((L) => gpu.tensor(`bench.audio.L${L}`, [perWindow, cfg.decoder.hidden], 'f32'));
  o.peaks.start();
  log(`encoder-window, ${Ls.join(' and ')} layer(s):`);
  const rs = await timeInterleaved(o.timing, Ls.map((L, i) => {
    const w = sliced(asr.weights, L, use.decoder);
    return {
      name: `encoder L=${L}`,
      run: async () => {
        const rec = new Recorder(gpu, 'bench encoder');
        encodeAudio(rec, w, cfg, mel, 1, outs[i]);
        rec.submit();
        await gpu.sync();
      },
    };
  }));
  const mem = o.peaks.stop();
  let check: unknown;
  if (existsSync(checkFile)) {
    const want = new Float32Array(readFileSync(join(dir, `encoder-L${use.encoder}.ref.audio_embeddings.bin`)).buffer
      .slice(0));
    const e = relL2(await gpu.readF32(outs[0]), want);
    const limit = o.precision === 'f32' ? 1e-4 : o.precision === 'f16' ? 1e-2 : 5e-2;
    check = { vsPytorchReference: r3(e), ok: e <= limit };
    log(`  ours vs PyTorch reference (same mel, ${use.encoder} layers): rel-L2 ${e.toExponential(2)}`);
  }
  gpu.release(mel, ...outs);
  const cost = costs(cfg, bytesPerWeight(o.precision));
  return Ls.map((L, i) => {
    const c = cost.encoder(L);
    return {
      ...base(o), stage: 'encoder-window', shape: { windows: 1, frames: encoderFrames(cfg), melFrames: fe.nFrames },
      ...rs[i], warmup: o.timing.warmup, layers: { encoder: L, decoder: use.decoder },
      ...rates(o.yardsticks, c.flops, c.bytes, rs[i].medianMs), ...mem, check: i === 0 ? check : undefined,
    };
  });
}

/** 3. Prefill: the decoder over the 30 s prompt (375 audio tokens + the template's fixed tokens), beam row 0. */
export async function measurePrefill(o: OursRun): Promise<ModelRecord[]> {
  const { gpu, asr, use } = o;
  const cfg = asr.config;
  const T = o.promptTokens;
  // Prompt embeddings (values do not change the cost; uploaded so that any weight format works).
  const H = cfg.decoder.hidden;
  const emb = gpu.upload('bench.prompt.emb', seededUniform(T * H, 3, 1), [T, H], 'f32');
  const Ls = o.decoderDepths;
  const decs = Ls.map((L) => new Decoder(gpu, sliced(asr.weights, use.encoder, L), cfg, 1, T + 8));
  o.peaks.start();
  log(`prefill ${T} tokens, ${Ls.join(' and ')} layer(s):`);
  const rs = await timeInterleaved(o.timing, Ls.map((L, i) => ({
    name: `prefill L=${L}`,
    run: async () => {
      const rec = new Recorder(gpu, 'bench prefill');
      decs[i].prefill(rec, emb, T);
      rec.submit();
      await gpu.sync();
    },
  })));
  const mem = o.peaks.stop();
  decs.forEach((d) => d.dispose());
  gpu.release(emb);
  const cost = costs(cfg, bytesPerWeight(o.precision));
  return Ls.map((L, i) => {
    const c = cost.prefill(L, T);
    return {
      ...base(o), stage: 'prefill', shape: { tokens: T, audioTokens: encoderFrames(cfg) / cfg.projector.mergeFactor },
      ...rs[i], warmup: o.timing.warmup, layers: { encoder: use.encoder, decoder: L },
      ...rates(o.yardsticks, c.flops, c.bytes, rs[i].medianMs), ...mem,
    };
  });
}

/**
 * 4. Decode step at KV position `pos`, through the engine's own search model (GpuSearchModel, what greedy and
 * beamSearch drive): greedy = step + argmax id read back; beam B = step over B rows + top-2B candidates read back +
 * KV reorder of the generated positions. That is the per-token cost of each search.
 */
export async function measureDecodeStep(o: OursRun, B: number): Promise<ModelRecord[]> {
  const { gpu, asr, use, pos } = o;
  const cfg = asr.config;
  const Ls = o.decoderDepths;
  const tokens = Int32Array.from({ length: B }, (_, i) => 100 + 37 * i);
  const src = Array.from({ length: B }, (_, i) => (i + 1) % B);
  const scores = new Float32Array(B).fill(-1);
  const decs: Decoder[] = [];
  const models: GpuSearchModel[] = [];
  for (const L of Ls) {
    const dec = new Decoder(gpu, sliced(asr.weights, use.encoder, L), cfg, B, pos + 8);
    // As after a prefill of the 30 s prompt (promptLength is what reorder() skips); the cache content is zeros.
    (dec as unknown as { promptLength: number }).promptLength = o.promptTokens;
    const model = new GpuSearchModel(gpu, dec, cfg.decoder.vocab, B);
    if (B > 1) {
      // The first reorder after a prefill copies the whole prompt to every beam; later ones only the generated
      // positions. Do the first one untimed.
      dec.length = pos;
      model.reorder(src);
      await gpu.sync();
    }
    decs.push(dec);
    models.push(model);
  }
  o.peaks.start();
  log(`decode-step, ${B === 1 ? 'greedy' : `beam ${B}`}, position ${pos}, ${Ls.join(' and ')} layer(s):`);
  const rs = await timeInterleaved(o.timing, Ls.map((L, i) => ({
    name: `step B=${B} L=${L}`,
    run: async () => {
      const model = models[i];
      decs[i].length = pos;
      await model.step(tokens);
      if (B === 1) await model.argmax(1);
      else {
        await model.topK(scores, 2 * B);
        await model.reorder(src);
        await gpu.sync();
      }
    },
  })));
  const mem = o.peaks.stop();
  models.forEach((m) => m.dispose());
  decs.forEach((d) => d.dispose());
  const cost = costs(cfg, bytesPerWeight(o.precision));
  return Ls.map((L, i) => {
    const c = cost.step(L, B, pos);
    return {
      ...base(o), stage: 'decode-step', shape: { beams: B, pos, search: B === 1 ? 'greedy' : 'beam' },
      ...rs[i], warmup: o.timing.warmup, layers: { encoder: use.encoder, decoder: L },
      ...rates(o.yardsticks, c.flops, c.bytes, rs[i].medianMs), msPerToken: rs[i].medianMs, ...mem,
    };
  });
}

/**
 * 5. Continuous batching (docs/batching.md): R greedy sequences at positions pos, pos − 7, pos − 14, … on one
 * shared KV cache, advanced by ONE batched decoder step (`Decoder.step` with R members: every weight is read once
 * for all rows) against the R single steps they take one by one (R submissions, one wait at the end). Measured at
 * the loaded decoder depth; the ratio is what concurrent transcriptions gain per token.
 */
export async function measureBatchedStep(o: OursRun, R: number): Promise<ModelRecord[]> {
  const { gpu, asr, use, pos } = o;
  const cfg = asr.config;
  const w = sliced(asr.weights, use.encoder, use.decoder);
  const cache = new DecoderCache(gpu, w, cfg, R, pos + 8, 1);
  const decs = Array.from({ length: R }, () => new Decoder(gpu, w, cfg, 1, pos + 8, cache));
  const at = decs.map((_, r) => Math.max(1, pos - 7 * r));
  const tokens = decs.map((_, r) => Int32Array.of(100 + 37 * r));
  const reset = () => decs.forEach((d, r) => { d.length = at[r]; });
  o.peaks.start();
  log(`decode-batch, ${R} greedy sequence(s) at positions ${at[at.length - 1]}..${pos}, ${use.decoder} layer(s):`);
  const [one, separate] = await timeInterleaved(o.timing, [
    { name: `one step over ${R} rows`, run: async () => {
      reset();
      Decoder.step(gpu, decs.map((decoder, r) => ({ decoder, tokens: tokens[r] })));
      await gpu.sync();
    } },
    { name: `${R} separate steps`, run: async () => {
      reset();
      decs.forEach((d, r) => d.step(tokens[r]));
      await gpu.sync();
    } },
  ]);
  const mem = o.peaks.stop();
  decs.forEach((d) => d.dispose());
  cache.dispose();
  const rec = (mode: string, r: typeof one) => ({
    ...base(o), stage: 'decode-batch' as const, shape: { rows: R, pos, mode }, ...r, warmup: o.timing.warmup,
    layers: { encoder: use.encoder, decoder: use.decoder }, msPerToken: r3(r.medianMs / R), ...mem,
  });
  return [rec('one step', one), rec('separate', separate)];
}

/** What a transcribe run needs for its full-depth estimate. */
export interface TranscribeRun {
  precision: string;
  audioSec: number;
  windows: number;
  tokens: number;
  promptTokens: number;
  ms: number;
}

/** 5. Transcribe: synthetic audio of each length, greedy, exactly maxNewTokens tokens (eos is disabled). */
export async function measureTranscribe(o: OursRun, audio: number[], maxTokens: number[]):
  Promise<{ records: ModelRecord[]; runs: TranscribeRun[] }> {
  const { asr } = o;
  const fe = asr.config.frontEnd;
  const perWindow = encoderFrames(asr.config) / asr.config.projector.mergeFactor;
  const records: ModelRecord[] = [];
  const runs: TranscribeRun[] = [];
  for (const [i, sec] of audio.entries()) {
    const samples = syntheticAudio(sec);
    o.peaks.start();
    log(`transcribe ${sec} s, maxNewTokens ${maxTokens[i]}:`);
    const meter = LoadMeter.start();
    // Fixed 30 s windows: the VAD would drop synthetic audio as non-speech and time no decoding.
    const tr = await asr.transcribe({ samples, sampleRate: 16000 },
      { maxNewTokens: maxTokens[i], beams: 1, segmenter: 'fixed' });
    const load = meter.stop();
    const windows = Math.max(1, Math.ceil(samples.length / fe.nSamples));
    let audioTokens = 0;
    for (let k = 0; k < windows; k++) {
      audioTokens += asr.audioTokens(Math.min(fe.nSamples, samples.length - k * fe.nSamples));
    }
    const promptTokens = o.promptTokens - perWindow + audioTokens;
    const s = (ms: number) => (ms / 1000).toFixed(1);
    log(`  ${s(tr.timings.total)} s (encode+prefill ${s(tr.timings.encode)} s, generate ${s(tr.timings.generate)} s, `
      + `${tr.tokens.length} tokens)`);
    const tokens = tr.tokens.length;
    runs.push({ precision: o.precision, audioSec: sec, windows, tokens, promptTokens, ms: tr.timings.total });
    records.push({
      ...base(o), stage: 'transcribe',
      shape: { audioSec: sec, windows, maxNewTokens: maxTokens[i], tokens: tr.tokens.length, promptTokens, beams: 1 },
      medianMs: r3(tr.timings.total), iters: 1, warmup: 0, layers: { ...o.use }, rtf: r3(tr.timings.total / 1000 / sec),
      timings: Object.fromEntries(Object.entries(tr.timings).map(([k, v]) => [k, r3(v)])), ...o.peaks.stop(), load,
      note: tr.tokens.length < maxTokens[i]
        ? `stopped after ${tr.tokens.length} tokens (the random model produced the stand-in eos)` : undefined,
    });
  }
  return { records, runs };
}
