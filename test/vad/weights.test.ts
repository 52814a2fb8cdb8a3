/**
 * The converter and the loader: the shipped files are what the converter makes from the pinned ONNX; every
 * converted tensor's bytes occur verbatim in the ONNX file; bad ONNX input and bad weights (missing file, missing
 * tensor, wrong dtype or shape, a basis that is not a windowed DFT, a bad config) give errors naming the file and
 * tensor.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SileroVad, VadInputError, VadModelError } from '../../src/vad';
import { vadTensorShapes } from '../../src/vad/model';
import { FileMapProvider } from '../../src/weights/checkpoint';
import { SafetensorsFile } from '../../src/weights/safetensors';
import { writeSafetensors, type TensorToWrite } from '../../src/weights/safetensors-writer';
import { MemorySource } from '../../src/weights/sources';
import { convertVad, extractVadTensors, SILERO_V5_CONFIG } from '../../weights-tools/convert-vad';
import { OnnxFormatError } from '../../weights-tools/vad-onnx';
import { loadShippedVad, ONNX_FILE, onnxBytes, VAD_DIR } from './helpers';

let onnx: Uint8Array;
let shipped: { config: string; weights: Uint8Array };
let tensors: TensorToWrite[];

beforeAll(async () => {
  onnx = onnxBytes();
  shipped = {
    config: readFileSync(join(VAD_DIR, 'config.json'), 'utf8'),
    weights: new Uint8Array(readFileSync(join(VAD_DIR, 'model.safetensors'))),
  };
  const st = await SafetensorsFile.open(new MemorySource(shipped.weights, 'shipped'));
  tensors = [];
  for (const t of st.tensors.values()) {
    tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, data: await st.read(t.name) });
  }
});

describe('convert-vad', () => {
  it('reproduces the shipped model.safetensors and config.json from the pinned ONNX', () => {
    const { weights, config } = convertVad(onnx, ONNX_FILE);
    expect(Buffer.from(weights).equals(Buffer.from(shipped.weights))).toBe(true);
    expect(`${JSON.stringify(config, null, 2)}\n`).toBe(shipped.config);
  });

  it('copies every tensor of both branches bit for bit: its bytes occur verbatim in the ONNX file', () => {
    const names = ['16000', '8000'].flatMap((rate) =>
      vadTensorShapes(SILERO_V5_CONFIG, rate).map(([n]) => `sr${rate}.${n}`),
    );
    expect(tensors.map((t) => t.name).sort()).toEqual(names.sort());
    const file = Buffer.from(onnx);
    for (const t of tensors) {
      // One-element tensors (a bias of 1) are too short to be a meaningful search.
      if (t.data.byteLength >= 64) expect(file.indexOf(Buffer.from(t.data)), t.name).toBeGreaterThan(0);
    }
    // And the reader's values are those bytes (not, say, the other branch's).
    const ex = extractVadTensors(onnx, ONNX_FILE);
    for (const t of tensors) {
      const f = ex.get(t.name)!.floats!;
      expect(Buffer.from(f.buffer, f.byteOffset, f.byteLength).equals(Buffer.from(t.data)), t.name).toBe(true);
    }
    expect(ex.get('sr16000.stft.forward_basis_buffer')!.dims).toEqual([258, 1, 256]);
    expect(ex.get('sr8000.stft.forward_basis_buffer')!.dims).toEqual([130, 1, 128]);
  });

  it('refuses a file that is not ONNX or is cut short, naming it', () => {
    expect(() => convertVad(new TextEncoder().encode('{"not": "onnx"}'), 'x.onnx')).toThrow(OnnxFormatError);
    expect(() => convertVad(onnx.subarray(0, onnx.byteLength >> 1), 'half.onnx')).toThrow(/half\.onnx: .*past/);
    expect(() => convertVad(new Uint8Array(0), 'empty.onnx')).toThrow(/empty\.onnx: no graph/);
  });
});

describe('SileroVad.load', () => {
  const load = (weights: Uint8Array, config = shipped.config): Promise<SileroVad> =>
    SileroVad.load({ config, weights, name: 'vad' });
  const without = (name: string): Uint8Array => writeSafetensors(tensors.filter((t) => t.name !== name));
  const replaced = (name: string, t: Partial<TensorToWrite>): Uint8Array =>
    writeSafetensors(tensors.map((x) => (x.name === name ? { ...x, ...t } : x)));

  it('loads the shipped folder: both rates, 32 ms chunks', async () => {
    const vad = await loadShippedVad();
    expect(vad.sampleRates.sort()).toEqual([16000, 8000]);
    expect(vad.chunkSamples(16000)).toBe(512);
    expect(vad.chunkSamples(8000)).toBe(256);
    expect(() => vad.probabilities(new Float32Array(100), 44100)).toThrow(VadInputError);
    expect(() => vad.stream(22050)).toThrow(/22050 Hz is not supported: resample to/);
    expect(vad.probabilities(new Float32Array(0), 16000).length).toBe(0);
  });

  it('names a missing file', async () => {
    const onlyConfig = new FileMapProvider([['config.json', new Blob([shipped.config])]], 'folder');
    await expect(SileroVad.load(onlyConfig)).rejects.toThrow(/folder\/model\.safetensors: cannot open the VAD weights/);
    const onlyWeights = new FileMapProvider([['model.safetensors', new Blob([shipped.weights as BlobPart])]], 'folder');
    await expect(SileroVad.load(onlyWeights)).rejects.toThrow(/folder\/config\.json: cannot read the VAD config/);
  });

  it('names a missing tensor, a wrong shape or dtype, and a basis that is not a windowed DFT', async () => {
    await expect(load(without('sr8000.decoder.rnn.weight_hh'))).rejects.toThrow(
      /vad\/model\.safetensors: tensor "sr8000\.decoder\.rnn\.weight_hh": missing/,
    );
    const enc = tensors.find((t) => t.name === 'sr16000.encoder.1.reparam_conv.weight')!;
    await expect(load(replaced(enc.name, { shape: [64, 3, 128] }))).rejects.toThrow(
      /"sr16000\.encoder\.1\.reparam_conv\.weight": is F32 \[64,3,128\], expected F32 \[64,128,3\]/,
    );
    const half = new Uint8Array(enc.data.byteLength / 2);
    await expect(load(replaced(enc.name, { dtype: 'F16', data: half }))).rejects.toThrow(/is F16 .* expected F32/);
    const basis = tensors.find((t) => t.name === 'sr16000.stft.forward_basis_buffer')!;
    const noisy = new Float32Array(basis.data.slice().buffer);
    noisy[1000] += 1e-3;
    await expect(load(replaced(basis.name, { data: new Uint8Array(noisy.buffer) }))).rejects.toThrow(
      /tensor "sr16000\.stft\.forward_basis_buffer": not a windowed DFT basis/,
    );
    await expect(load(shipped.weights.subarray(0, 1000))).rejects.toThrow(VadModelError);
  });

  it('names a bad config', async () => {
    const cfg = JSON.parse(shipped.config);
    await expect(load(shipped.weights, '{')).rejects.toThrow(/vad\/config\.json: not valid JSON/);
    await expect(load(shipped.weights, JSON.stringify({ ...cfg, format: 'other' }))).rejects.toThrow(/format "other"/);
    cfg.sample_rates['16000'].chunk = 480;
    await expect(load(shipped.weights, JSON.stringify(cfg))).rejects.toThrow(/sample_rates\["16000"\]/);
  });
});
