/**
 * Silero VAD v5 ONNX → safetensors + config.json for src/vad (both the 16 kHz and the 8 kHz branch).
 *
 *   npx tsx weights-tools/convert-vad.ts [MODEL.onnx] [OUT_DIR]
 *
 * Defaults: node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx → models/silero-vad-v5.
 * The graph's top-level `If` on `sr == 16000` holds the 16 kHz weights in its then-branch and the 8 kHz ones in its
 * else-branch, as Constant nodes named `<branch prefix><PyTorch name>`; tensors are copied bit for bit under
 * `sr16000.<PyTorch name>` / `sr8000.<PyTorch name>`. The LSTM weights keep PyTorch's gate order (i, f, g, o).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSafetensors, type TensorToWrite } from '../src/weights/safetensors-writer';
import { VAD_CONFIG_FILE, VAD_WEIGHTS_FILE, vadTensorShapes, type VadConfig } from '../src/vad/model';
import { collectFloatTensors, OnnxFormatError, readOnnxGraph, type OnnxGraph, type OnnxTensor } from './vad-onnx';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
export const DEFAULT_VAD_ONNX = join(repoRoot, 'node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx');
export const DEFAULT_VAD_OUT = join(repoRoot, 'models/silero-vad-v5');

/** The configuration of Silero VAD v5 (its geometry, fixed by the network). */
export const SILERO_V5_CONFIG: Omit<VadConfig, 'source'> = {
  format: 'silero-vad-v5',
  hidden_size: 128,
  sample_rates: {
    '16000': { chunk: 512, context: 64, n_fft: 256, hop: 128 },
    '8000': { chunk: 256, context: 32, n_fft: 128, hop: 64 },
  },
};

/** The graph's `If` on the sample rate: then-branch = 16 kHz, else-branch = 8 kHz. */
function branches(g: OnnxGraph, file: string): { rate: string; graph: OnnxGraph }[] {
  const node = g.nodes.find((n) => n.opType === 'If' && n.attributes.some((a) => a.name === 'then_branch'));
  const thenG = node?.attributes.find((a) => a.name === 'then_branch')?.g;
  const elseG = node?.attributes.find((a) => a.name === 'else_branch')?.g;
  if (!thenG || !elseG) throw new OnnxFormatError(file, 'no top-level If on the sample rate: not Silero VAD v5?', 0);
  return [
    { rate: '16000', graph: thenG },
    { rate: '8000', graph: elseG },
  ];
}

/** Each branch's weights under our names, taken from the ONNX file's Constant nodes. */
export function extractVadTensors(onnx: Uint8Array, file: string): Map<string, OnnxTensor> {
  const out = new Map<string, OnnxTensor>();
  for (const { rate, graph } of branches(readOnnxGraph(onnx, file), file)) {
    const found = [...collectFloatTensors(graph).values()];
    for (const [short, shape] of vadTensorShapes(SILERO_V5_CONFIG, rate)) {
      const matches = found.filter((t) => t.name.endsWith(`__${short}`));
      if (matches.length !== 1) {
        const why = `${rate} Hz branch: ${matches.length} tensors named *__${short}, expected one`;
        throw new OnnxFormatError(file, why, 0);
      }
      const t = matches[0];
      if (t.dims.join() !== shape.join()) {
        throw new OnnxFormatError(file, `${rate} Hz branch: ${short} has shape [${t.dims}], expected [${shape}]`, 0);
      }
      out.set(`sr${rate}.${short}`, t);
    }
  }
  return out;
}

export interface ConvertedVad {
  weights: Uint8Array;
  config: VadConfig;
}

export function convertVad(onnx: Uint8Array, file: string): ConvertedVad {
  const tensors: TensorToWrite[] = [...extractVadTensors(onnx, file)].map(([name, t]) => {
    const f = t.floats as Float32Array;
    return { name, dtype: 'F32', shape: t.dims, data: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
  });
  const sha256 = createHash('sha256').update(onnx).digest('hex');
  const config: VadConfig = { ...SILERO_V5_CONFIG, source: { file: basename(file), sha256 } };
  return { weights: writeSafetensors(tensors, { format: config.format }), config };
}

function main(argv: string[]): void {
  const [input = DEFAULT_VAD_ONNX, outDir = DEFAULT_VAD_OUT] = argv;
  const { weights, config } = convertVad(readFileSync(input), input);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, VAD_WEIGHTS_FILE), weights);
  writeFileSync(join(outDir, VAD_CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
  console.log(`${input} → ${outDir}: ${VAD_WEIGHTS_FILE} (${weights.byteLength} bytes), ${VAD_CONFIG_FILE}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
