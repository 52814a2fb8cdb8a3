/** Shared by the VAD tests: the shipped model, the original ONNX, and onnxruntime-node run chunk by chunk. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { SileroVad } from '../../src/vad';
import { NodeFolderProvider } from '../../src/weights/node-file-source';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const VAD_DIR = join(REPO, 'models/silero-vad-v5');
export const ONNX_FILE = join(REPO, 'node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx');
/** The corpus sits in ../shared next to the repository, here and on CI. */
export const CORPUS = resolve(REPO, '../shared/corpus');

export function onnxBytes(): Uint8Array {
  if (!existsSync(ONNX_FILE)) throw new Error(`${ONNX_FILE} is missing: run npm ci (devDependency @ricky0123/vad-web)`);
  return new Uint8Array(readFileSync(ONNX_FILE));
}

export function loadShippedVad(): Promise<SileroVad> {
  return SileroVad.load(new NodeFolderProvider(VAD_DIR));
}

/**
 * The original network under onnxruntime-node (CPU, one thread), called like silero's own OnnxWrapper: each call
 * gets the previous call's last `context` samples plus the next chunk (the last one zero-padded) and its state.
 */
export class OrtVad {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(): Promise<OrtVad> {
    const options = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 };
    const session = await ort.InferenceSession.create(ONNX_FILE, options);
    return new OrtVad(session);
  }

  async probabilities(x: Float32Array, sampleRate: 16000 | 8000): Promise<Float32Array> {
    const chunk = sampleRate === 16000 ? 512 : 256;
    const context = chunk / 8;
    const n = Math.ceil(x.length / chunk);
    const out = new Float32Array(n);
    let state: ort.Tensor = new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
    const sr = new ort.Tensor('int64', BigInt64Array.of(BigInt(sampleRate)), []);
    let ctx = new Float32Array(context);
    for (let i = 0; i < n; i++) {
      const input = new Float32Array(context + chunk);
      input.set(ctx);
      input.set(x.subarray(i * chunk, (i + 1) * chunk), context);
      const r = await this.session.run({ input: new ort.Tensor('float32', input, [1, context + chunk]), state, sr });
      out[i] = (r.output.data as Float32Array)[0];
      state = r.stateN as ort.Tensor;
      ctx = input.slice(chunk);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
