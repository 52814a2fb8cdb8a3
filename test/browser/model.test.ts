/**
 * The whole engine in a real browser: headless Chromium loads the tiny golden checkpoint from files (the path a
 * web page takes with a folder picker: Blob.slice ranged reads), transcribes a corpus clip's 16 kHz samples on
 * its WebGPU adapter (SwiftShader: f32 weights, no shader-f16) and must return the PyTorch reference's ids.
 */
import { describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/transcriber';
import { FileMapProvider } from '../../src/weights/checkpoint';
import { SafetensorsFile } from '../../src/weights/safetensors';
import { BlobSource } from '../../src/weights/sources';
import { testGpu } from '../helpers/gpu';

const FILES = ['config.json', 'generation_config.json', 'processor_config.json', 'preprocessor_config.json',
  'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];

async function blob(path: string): Promise<Blob> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.blob();
}

describe('GlmAsr in the browser', () => {
  it('transcribes the tiny golden clip with the reference greedy ids', async () => {
    const gpu = await testGpu();
    const files = new Map<string, Blob>();
    for (const f of FILES) files.set(f, await blob(`/test/goldens/tiny/${f}`));
    const asr = await GlmAsr.load(new FileMapProvider(files, 'tiny'), { gpu });
    expect(asr.weights.precision).toBe(gpu.caps.f16 ? 'f16' : 'f32');

    const dump = await SafetensorsFile.open(
      new BlobSource(await blob('/test/goldens/dumps/tiny-zh-funasr-sample.safetensors')),
    );
    const f32 = async (n: string) => {
      const b = await dump.read(n);
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    };
    const ids = await dump.read('greedy_ids');
    const golden = Array.from(new Int32Array(ids.buffer, ids.byteOffset, ids.byteLength / 4));
    const t = await asr.transcribe({ samples: await f32('input_samples'), sampleRate: 16000 }, {
      segmenter: 'fixed', maxNewTokens: Number(dump.metadata!.max_new_tokens),
    });
    expect(t.tokens).toEqual(golden.slice(0, t.tokens.length));
    expect(t.tokens.length).toBe(golden.length - 1); // the reference's last id is the eos
  });
});
