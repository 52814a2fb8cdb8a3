/**
 * What the quantised-model tests share (int8, int4, no-f16): greedy decoding that keeps every step's logits, a
 * dump's f32 tensor, and the F32 checkpoint of a quantised folder's dequantised weights that the quantised path
 * is compared with.
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { splitWindows } from '../../src/audio';
import { Recorder } from '../../src/gpu';
import type { GlmAsr } from '../../src/models/glm-asr/node';
import { Checkpoint } from '../../src/weights/checkpoint';
import { toFloat32 } from '../../src/weights/dtype';
import { NodeFolderProvider, writeSafetensorsFile } from '../../src/weights/node-file-source';
import { dequantizeRows, dequantizeRows4, SCALE_SUFFIX } from '../../src/weights/quant';
import type { SafetensorsFile } from '../../src/weights/safetensors';

export async function readF32(d: SafetensorsFile, name: string): Promise<Float32Array> {
  const b = await d.read(name);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** Greedy decoding that also returns each step's logits (for margins and per-step error). */
export async function greedyLogits(
  asr: GlmAsr, samples: Float32Array, maxNewTokens: number,
): Promise<{ ids: number[]; logits: Float32Array[] }> {
  const gpu = asr.gpu;
  const vocab = asr.config.decoder.vocab;
  const eos = new Set(asr.config.ids.eosTokenIds);
  const dec = await asr.prefill(splitWindows(samples, asr.config.frontEnd.nSamples), { beams: 1, maxNewTokens });
  const ids: number[] = [];
  const logits: Float32Array[] = [];
  for (let i = 0; i < maxNewTokens; i++) {
    const l = new Float32Array(await gpu.readF32(dec.logits, vocab));
    logits.push(l);
    let best = 0;
    for (let v = 1; v < vocab; v++) if (l[v] > l[best]) best = v;
    ids.push(best);
    if (eos.has(best) || i + 1 === maxNewTokens) break;
    dec.step(Int32Array.of(best));
  }
  dec.dispose();
  return { ids, logits };
}

/**
 * Writes an F32 checkpoint of the dequantised weights q·s of an INT8 (I8) or 4-bit (U8, two values a byte) folder;
 * the other tensors are widened to F32 and the other files copied.
 */
export async function writeDequantized(src: string, dst: string): Promise<void> {
  mkdirSync(dst, { recursive: true });
  for (const f of readdirSync(src)) if (!f.endsWith('.safetensors')) copyFileSync(join(src, f), join(dst, f));
  const ck = await Checkpoint.open(new NodeFolderProvider(src));
  const G = Number(ck.files.get('model.safetensors')!.metadata!.group_size);
  const out = [];
  for (const [name, t] of ck.tensors) {
    if (name.endsWith(SCALE_SUFFIX)) continue;
    const quantised = t.dtype === 'I8' || t.dtype === 'U8';
    const scales = quantised ? new Uint16Array((await ck.read(name + SCALE_SUFFIX)).buffer) : undefined;
    const f = !scales ? toFloat32(await ck.read(name), t.dtype)
      : t.dtype === 'I8'
        ? dequantizeRows(new Int8Array((await ck.read(name)).buffer), scales, t.shape[0], t.shape[1], G)
        // Every K of these models is even: the packed rows hold K / 2 bytes.
        : dequantizeRows4(await ck.read(name), scales, t.shape[0], t.shape[1] * 2, G);
    out.push({ name, dtype: 'F32' as const, shape: scales ? [t.shape[0], f.length / t.shape[0]] : t.shape,
      data: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) });
  }
  await ck.close();
  await writeSafetensorsFile(join(dst, 'model.safetensors'), out, { format: 'pt' });
}
