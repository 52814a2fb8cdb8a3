/**
 * The whole decode step at INT8 and 4-bit side by side, timed round-robin in one process on one adapter (issue 18
 * §1: "decode step with 4-bit weights ≥ 1.4× INT8, in one bench run"). `npm run bench` measures one precision after
 * the other, so a change in the load of a shared machine falls on one of them; here every round runs both.
 *
 *   bash scripts/with-gpu-env.sh npx tsx bench/decode-quant.ts [--model DIR] [--decoder-layers N] [--iters N]
 *                                                              [--warmup N] [--decode-pos P]
 *
 *   --model DIR  the float checkpoint (default: npm run bench's full-size random one); INT8 loads `DIR-int8`
 *                (quantised on first use, as npm run bench does), 4-bit quantises DIR while it loads
 *   --decoder-layers N  default: all (the real step); the encoder is cut to 1 layer (a decode step does not use it)
 *   --decode-pos P  KV-cache position of the step (default: 30 s prompt + 50, as npm run bench)
 *
 * The step is the model bench's greedy decode step (bench/model/stages.ts: GpuSearchModel.step + argmax read
 * back, KV position = 30 s prompt + 50). Prints the median, min and CPU time per step of each and the ratio.
 */
import { parseArgs } from 'node:util';
import { Gpu } from '../src/gpu';
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
  for (const s of steps) {
    s.model.dispose();
    s.dec.dispose();
    s.asr.dispose();
  }
  gpu.destroy();
}

await main();
