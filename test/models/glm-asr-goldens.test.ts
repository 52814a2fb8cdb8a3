/**
 * Stage-by-stage agreement with the independent PyTorch reference (weights-tools/glmasr_reference.py) on the
 * committed tiny checkpoints and golden dumps (test/goldens, docs/goldens.md): log-mel, conv front end, every
 * encoder layer, final norm, projector, prefill logits, greedy ids and beam-4 ids.
 *
 * `tiny-b` differs from `tiny` in every size, in the rotary fraction and θ, in the eos ids, is sharded and has an
 * untied lm_head: passing on both shows there are no hidden assumptions about sizes.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu, Tensor } from '../../src/gpu';
import { splitWindows } from '../../src/audio';
import { encoderFrames } from '../../src/models/glm-asr/encoder';
import { GlmAsr, type PrefillTaps } from '../../src/models/glm-asr/transcriber';
import { openSafetensorsFile } from '../../src/weights/node-file-source';
import type { SafetensorsFile } from '../../src/weights/safetensors';
import { relL2, testGpu } from '../helpers/gpu';

const GOLDENS = join(__dirname, '..', 'goldens');
const DUMPS = readdirSync(join(GOLDENS, 'dumps')).filter((f) => f.endsWith('.safetensors')).sort();

/** Tolerances: f32 engine vs f32 PyTorch. The reference itself drifts ≤ 2.3e-5 (mel) and ≤ 3.6e-4 (logits) from f64. */
const TOL = { mel: 1e-4, encoder: 1e-4, projector: 1e-4, logits: 2e-3 };

const models = new Map<string, Promise<GlmAsr>>();
function model(gpu: Gpu, name: string, precision: 'f32' | 'f16' = 'f32'): Promise<GlmAsr> {
  const key = `${name}:${precision}`;
  if (!models.has(key)) models.set(key, GlmAsr.load(join(GOLDENS, name), { gpu, precision }));
  return models.get(key)!;
}

const f32 = async (d: SafetensorsFile, n: string) => { const b = await d.read(n); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
const i32 = async (d: SafetensorsFile, n: string) => { const b = await d.read(n); return Array.from(new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4)); };
const argmax = (x: ArrayLike<number>) => { let b = 0; for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i; return b; };

for (const file of DUMPS) {
  describe(`golden ${file}`, () => {
    let gpu: Gpu;
    let dump: SafetensorsFile;
    let asr: GlmAsr;
    let samples: Float32Array;
    let eos: Set<number>;
    let maxNewTokens: number;
    const stripEos = (ids: number[]) => (ids.length && eos.has(ids[ids.length - 1]) ? ids.slice(0, -1) : ids);

    beforeAll(async () => {
      gpu = await testGpu();
      dump = await openSafetensorsFile(join(GOLDENS, 'dumps', file));
      asr = await model(gpu, String(dump.metadata!.model));
      samples = await f32(dump, 'input_samples');
      eos = new Set(asr.config.ids.eosTokenIds);
      maxNewTokens = Number(dump.metadata!.max_new_tokens);
    });
    afterAll(() => dump.close());

    it('every stage of the audio path and the prefill logits match the reference', async () => {
      const cfg = asr.config;
      const fe = cfg.frontEnd;
      const windows = splitWindows(samples, fe.nSamples);
      expect(windows.map((w) => w.validSamples)).toEqual(await i32(dump, 'window_valid_samples'));
      expect(windows.map((w) => asr.audioTokens(w.validSamples))).toEqual(await i32(dump, 'window_audio_tokens'));

      const W = windows.length;
      const frames = encoderFrames(cfg);
      const d = cfg.encoder.hidden;
      const tap = (label: string, shape: number[]) => gpu.tensor(label, shape, 'f32');
      const taps: PrefillTaps = {
        mel: tap('tap.mel', [W, fe.melBins, fe.nFrames]),
        conv: tap('tap.conv', [W * frames, d]),
        layers: Array.from({ length: cfg.encoder.layers }, (_, i) => (dump.has(`encoder_layer_${i}`) ? tap(`tap.l${i}`, [W * frames, d]) : undefined)),
        final: tap('tap.final', [W * frames, d]),
        projector: tap('tap.projector', [(W * frames) / 4, cfg.decoder.hidden]),
      };
      const decoder = await asr.prefill(windows, { beams: 1, maxNewTokens: 4, taps });
      const compare = async (t: Tensor, name: string, tol: number) => {
        const err = relL2(await gpu.readF32(t), await f32(dump, name));
        expect(err, `${name}: rel-L2 ${err.toExponential(2)}`).toBeLessThan(tol);
      };
      if (dump.has('mel')) await compare(taps.mel!, 'mel', TOL.mel);
      if (dump.has('conv_out')) await compare(taps.conv!, 'conv_out', TOL.encoder);
      for (const [i, t] of taps.layers!.entries()) if (t) await compare(t, `encoder_layer_${i}`, TOL.encoder);
      await compare(taps.final!, 'encoder_out', TOL.encoder);

      // The reference dumps only each window's valid projector rows, concatenated.
      const proj = await gpu.readF32(taps.projector!);
      const perWindow = frames / 4;
      const h = cfg.decoder.hidden;
      const valid = (await i32(dump, 'window_audio_tokens')).flatMap((n, w) => Array.from(proj.subarray(w * perWindow * h, (w * perWindow + n) * h)));
      const projErr = relL2(valid, await f32(dump, 'projector_out'));
      expect(projErr, `projector_out: rel-L2 ${projErr.toExponential(2)}`).toBeLessThan(TOL.projector);

      const logits = await gpu.readF32(decoder.logits, cfg.decoder.vocab);
      const want = await f32(dump, 'prefill_logits_last');
      expect(relL2(logits, want)).toBeLessThan(TOL.logits);
      expect(argmax(logits)).toBe(argmax(want));
      decoder.dispose();
      gpu.release(taps.mel!, taps.conv!, taps.final!, taps.projector!, ...taps.layers!.filter((t): t is Tensor => !!t));
    });

    it('greedy token ids are identical', async () => {
      const t = await asr.transcribe({ samples, sampleRate: 16000 }, { maxNewTokens });
      expect(t.tokens).toEqual(stripEos(await i32(dump, 'greedy_ids')));
      expect(t.text.length).toBeGreaterThan(0);
    });

    it('beam-4 token ids are identical', async () => {
      const t = await asr.transcribe({ samples, sampleRate: 16000 }, { maxNewTokens, beams: 4, earlyStopping: true });
      expect(t.tokens).toEqual(stripEos(await i32(dump, 'beam4_ids')));
    });
  });
}

describe('precision', () => {
  it('f16 weight storage gives the same greedy ids as f32 (bf16 → f16 is exact in range)', async () => {
    const gpu = await testGpu();
    const dump = await openSafetensorsFile(join(GOLDENS, 'dumps', 'tiny-zh-funasr-sample.safetensors'));
    const asr = await model(gpu, 'tiny', 'f16');
    expect(asr.weights.precision).toBe('f16');
    const t = await asr.transcribe({ samples: await f32(dump, 'input_samples'), sampleRate: 16000 }, { maxNewTokens: Number(dump.metadata!.max_new_tokens) });
    const golden = await i32(dump, 'greedy_ids');
    expect(t.tokens).toEqual(golden.slice(0, t.tokens.length));
    expect(t.tokens.length).toBeGreaterThanOrEqual(golden.length - 1);
    await dump.close();
  });
});
