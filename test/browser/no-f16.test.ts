/**
 * Every weight precision in a real browser on an adapter without shader-f16 (issue 18 §1 and §3): headless
 * Chromium's SwiftShader adapter has no f16, and the trained demo model must give the PyTorch reference's greedy
 * ids (models/demo/samples/reference-ids.json) on a demo clip at f32, f16, int8 and int4: the float checkpoint
 * and INT8 / 4-bit checkpoint files (written here in memory by `quantizeCheckpoint`, as `npm run quantize` writes
 * them) read through a FileMapProvider as the folder picker gives them, and `precision: 'int4'` on the float
 * checkpoint read from a URL folder as the web page loads a model.
 * The demo model stands in for the tiny goldens here: its ids survive quantisation (docs/quantization.md), the
 * random tiny models' do not.
 */
import { describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/transcriber';
import type { WeightPrecision } from '../../src/models/glm-asr/weights';
import { Checkpoint, FileMapProvider, UrlFolderProvider, type FileProvider } from '../../src/weights/checkpoint';
import { quantizeCheckpoint } from '../../src/weights/quant';
import type { ByteSink } from '../../src/weights/safetensors-writer';
import { testGpu } from '../helpers/gpu';

const DEMO = '/models/demo/';
const CLIP = 'digits-oh.wav';
const FILES = ['config.json', 'generation_config.json', 'processor_config.json', 'preprocessor_config.json',
  'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];

async function fetchOk(path: string): Promise<Response> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res;
}

/** The clip's ids with eos stripped by the engine, and the reference's (which exclude the eos). */
async function idsOf(asr: GlmAsr): Promise<{ got: number[]; want: number[] }> {
  const ref = await (await fetchOk(`${DEMO}samples/reference-ids.json`)).json() as {
    max_new_tokens: number; clips: Record<string, { ids: number[] }>;
  };
  const wav = new Uint8Array(await (await fetchOk(`${DEMO}samples/${CLIP}`)).arrayBuffer());
  const t = await asr.transcribe(wav, { name: CLIP, segmenter: 'fixed', maxNewTokens: ref.max_new_tokens });
  return { got: t.tokens, want: ref.clips[CLIP].ids };
}

class BlobSink implements ByteSink {
  readonly name = 'memory';
  private readonly parts: Uint8Array<ArrayBuffer>[] = [];
  async write(b: Uint8Array) { this.parts.push(b.slice()); }
  async close() {}
  blob(): Blob { return new Blob(this.parts); }
}

/** The demo folder's files as Blobs (read through a FileMapProvider, as the page's folder picker gives them). */
async function demoFiles(): Promise<Map<string, Blob>> {
  const files = new Map<string, Blob>();
  for (const f of FILES) files.set(f, await (await fetchOk(DEMO + f)).blob());
  return files;
}

/** The demo folder with its weights quantised in memory by `quantizeCheckpoint` (what `npm run quantize` writes). */
async function quantized(files: Map<string, Blob>, bits: 8 | 4): Promise<FileMapProvider> {
  const float = await Checkpoint.open(new FileMapProvider(files, 'demo'));
  const sink = new BlobSink();
  await quantizeCheckpoint(float, sink, { bits });
  await float.close();
  return new FileMapProvider(new Map([...files, ['model.safetensors', sink.blob()]]), `demo-int${bits}`);
}

describe('every precision without shader-f16 (SwiftShader): the reference ids', () => {
  const cases: [string, WeightPrecision, (files: Map<string, Blob>) => Promise<FileProvider> | FileProvider,
    WeightPrecision | 'auto'][] = [
    ['f32', 'f32', (files) => new FileMapProvider(files, 'demo'), 'f32'],
    ['f16', 'f16', (files) => new FileMapProvider(files, 'demo'), 'f16'],
    ['int8 checkpoint (precision auto)', 'int8', (files) => quantized(files, 8), 'auto'],
    ['int4 checkpoint (precision auto)', 'int4', (files) => quantized(files, 4), 'auto'],
    // The web page's URL-folder path, with the float checkpoint quantised while it loads.
    ['int4 from a URL folder of the float checkpoint', 'int4',
      () => new UrlFolderProvider(new URL(DEMO, location.origin)), 'int4'],
  ];
  let files: Map<string, Blob> | undefined;
  for (const [what, loaded, provider, precision] of cases) {
    it(what, async () => {
      const gpu = await testGpu();
      expect(gpu.caps.f16).toBe(false);
      files ??= await demoFiles();
      const asr = await GlmAsr.load(await provider(files), { gpu, precision });
      expect(asr.weights.precision).toBe(loaded);
      const { got, want } = await idsOf(asr);
      expect(got).toEqual(want);
      asr.dispose();
    });
  }
});
