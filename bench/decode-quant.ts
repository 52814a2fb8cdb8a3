/**
 * The whole decode step at INT8 and 4-bit side by side, timed round-robin in one process on one adapter (issue 18
 * §1: "decode step with 4-bit weights ≥ 1.4× INT8, in one bench run"). `npm run bench` measures one precision after
 * the other, so a change in the load of a shared machine falls on one of them; here every round runs both.
 *
 *   bash scripts/with-gpu-env.sh npx tsx bench/decode-quant.ts [--model DIR] [--decoder-layers N] [--iters N]
 *                                                              [--warmup N] [--decode-pos P] [--profile]
 *
 *   --model DIR  the float checkpoint (default: npm run bench's full-size random one); INT8 loads `DIR-int8`
 *                (quantised on first use, as npm run bench does), 4-bit quantises DIR while it loads
 *   --decoder-layers N  default: all (the real step); the encoder is cut to 1 layer (a decode step does not use it)
 *   --decode-pos P  KV-cache position of the step (default: 30 s prompt + 50, as npm run bench)
 *   --profile    after the timing, `iters` more steps of each with a timestamp Profiler on the step's Recorder (one
 *                pass per dispatch, so slower than a plain step): median GPU ms per dispatch family (summed over
 *                the layers), where the step's time goes at each precision
 *
 * The step is the model bench's greedy decode step (bench/model/stages.ts: GpuSearchModel.step + argmax read
 * back, KV position = 30 s prompt + 50). Prints the median, min and CPU time per step of each and the ratio.
 */
import { parseArgs } from 'node:util';
import { Gpu, Profiler, Recorder } from '../src/gpu';
import { Decoder } from '../src/models/glm-asr/decoder';
import { GpuSearchModel, type GlmAsr } from '../src/models/glm-asr/transcriber';
import { checkpointsFor, modelProvider } from './model/checkpoint';
import { timeInterleaved } from './model/measure';
import { DEFAULT_MODEL, log } from './model/options';
import { loadModel, promptOf } from './model/stages';

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: {
    model: { type: 'string', default: DEFAULT_MODEL }, 'decoder-layers': { type: 'string' },
    iters: { type: 'string', default: '9' }, warmup: { type: 'string', default: '2' }, 'decode-pos': { type: 'string' },
    profile: { type: 'boolean', default: false },
  } });
  const decLayers = v['decoder-layers'] === undefined ? undefined : Number(v['decoder-layers']);
  const gpu = await Gpu.create();
  const adapter = gpu.describe();
  const steps: { precision: string; asr: GlmAsr; model: GpuSearchModel; dec: Decoder; pos: number }[] = [];
  for (const precision of ['int8', 'int4']) {
    const { ours } = await checkpointsFor(v.model!, undefined, precision);
    const { provider, use } = await modelProvider(ours, 1, decLayers);
    log(`precision ${precision}: ${ours}, decoder layers ${use.decoder}`);
    const { asr } = await loadModel(gpu, provider, precision, 1, adapter, use);
    const { promptTokens, pos } = promptOf(asr, v['decode-pos'] === undefined ? undefined : Number(v['decode-pos']));
    const dec = new Decoder(gpu, asr.weights, asr.config, 1, pos + 8);
    (dec as unknown as { promptLength: number }).promptLength = promptTokens; // as after a 30 s prompt's prefill
    steps.push({ precision, asr, dec, model: new GpuSearchModel(gpu, dec, asr.config.decoder.vocab, 1), pos });
  }
  const tokens = Int32Array.of(100);
  const rs = await timeInterleaved({ iters: Number(v.iters), warmup: Number(v.warmup), minTime: 0 },
    steps.map((s) => ({
      name: `decode step ${s.precision}`,
      run: async () => {
        s.dec.length = s.pos;
        await s.model.step(tokens);
        await s.model.argmax(1);
      },
    })));
  if (gpu.errors.length) throw new Error(`GPU errors: ${gpu.errors.join('; ')}`);
  console.log(`adapter: ${adapter}; KV position ${steps[0].pos}`);
  for (const [i, s] of steps.entries()) {
    const r = rs[i];
    console.log(`${s.precision}: median ${r.medianMs.toFixed(1)} ms, min ${r.minMs.toFixed(1)} ms, `
      + `cpu ${r.cpuMs.toFixed(1)} ms (${r.iters} rounds after ${v.warmup} warm-up)`);
  }
  console.log(`4-bit vs INT8: ${(rs[0].medianMs / rs[1].medianMs).toFixed(2)}× (median), `
    + `${(rs[0].minMs / rs[1].minMs).toFixed(2)}× (min), ${(rs[0].cpuMs / rs[1].cpuMs).toFixed(2)}× (cpu)`);
  if (v.profile) {
    const fams: Map<string, number>[] = [];
    for (const s of steps) {
      fams.push(await profileStep(gpu, Number(v.iters), async () => {
        s.dec.length = s.pos;
        await s.model.step(tokens);
        await s.model.argmax(1);
      }));
    }
    console.log(`GPU ms per dispatch family (median of ${v.iters} profiled steps): ${steps.map((s) => s.precision)}`);
    for (const [k] of [...fams[0]].sort((a, b) => b[1] - a[1])) {
      console.log(`  ${k.padEnd(34)}${fams.map((f) => (f.get(k) ?? 0).toFixed(2).padStart(9)).join('')}`);
    }
    const sums = fams.map((f) => [...f.values()].reduce((a, b) => a + b, 0));
    console.log(`  ${'total'.padEnd(34)}${sums.map((t) => t.toFixed(2).padStart(9)).join('')}`);
  }
  for (const s of steps) {
    s.model.dispose();
    s.dec.dispose();
    s.asr.dispose();
  }
  gpu.destroy();
}

/**
 * Median GPU ms per dispatch family of `run` over `iters` runs (labels with the layer index and the kernel tag
 * folded: "dec.l*.qkv").
 * The decoder records its own Recorder, so for these runs (bench only) every Recorder gets the Profiler.
 */
async function profileStep(gpu: Gpu, iters: number, run: () => Promise<void>): Promise<Map<string, number>> {
  const prof = new Profiler(gpu);
  const dispatch = Recorder.prototype.dispatch;
  const runs = new Map<string, number[]>();
  Recorder.prototype.dispatch = function (this: Recorder, ...a: Parameters<Recorder['dispatch']>) {
    (this as unknown as { profiler?: Profiler }).profiler ??= prof;
    dispatch.apply(this, a);
  };
  try {
    for (let i = 0; i < iters; i++) {
      await run();
      await gpu.sync();
      const fam = new Map<string, number>();
      for (const { label, ms } of await prof.read()) {
        const k = label.replace(/^#\d+ /, '').replace(/\.l\d+\./, '.l*.').replace(/ \[.*\]$/, '');
        fam.set(k, (fam.get(k) ?? 0) + ms);
      }
      for (const [k, ms] of fam) runs.set(k, [...(runs.get(k) ?? []), ms]);
    }
  } finally {
    Recorder.prototype.dispatch = dispatch;
    prof.destroy();
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return new Map([...runs].map(([k, a]) => [k, median(a)]));
}

await main();
