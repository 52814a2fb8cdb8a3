/**
 * Silero VAD v5 weights: config.json (geometry per sample rate) + model.safetensors (F32 tensors named
 * `sr<rate>.<PyTorch name>`), as written by weights-tools/convert-vad.ts. Loading checks every tensor's presence,
 * dtype and shape, and that the STFT basis is a windowed DFT (the forward runs it as an FFT); any problem is a
 * VadModelError naming the file and tensor. Browser-safe.
 */
import { SafetensorsFile } from '../weights/safetensors';
import { MemorySource } from '../weights/sources';
import type { FileProvider } from '../weights/checkpoint';
import { preview } from '../preview';

export const VAD_CONFIG_FILE = 'config.json';
export const VAD_WEIGHTS_FILE = 'model.safetensors';

/** Geometry of one sample-rate branch: `chunk` new samples per step, `context` carried from the last step. */
export interface VadRateConfig {
  chunk: number;
  context: number;
  n_fft: number;
  hop: number;
}

export interface VadConfig {
  format: 'silero-vad-v5';
  hidden_size: number;
  sample_rates: Record<string, VadRateConfig>;
  /** The ONNX file it was converted from. */
  source?: { file: string; sha256: string };
}

/** The weights of one branch, as loaded (conv weights [out][in][k], LSTM [4·hidden][hidden] in gate order i,f,g,o). */
export interface VadBranchWeights {
  rate: number;
  geometry: VadRateConfig;
  /** Periodic analysis window of length n_fft, read off the STFT basis. */
  window: Float32Array;
  encoder: { weight: Float32Array; bias: Float32Array; cin: number; cout: number; stride: number }[];
  weightIh: Float32Array;
  weightHh: Float32Array;
  biasIh: Float32Array;
  biasHh: Float32Array;
  decoderWeight: Float32Array;
  decoderBias: number;
}

export class VadModelError extends Error {
  readonly file: string;
  readonly tensor: string | undefined;
  constructor(file: string, message: string, options: { tensor?: string; cause?: unknown } = {}) {
    const where = options.tensor !== undefined ? ` tensor ${JSON.stringify(options.tensor)}:` : '';
    super(`${file}:${where} ${message}`, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'VadModelError';
    this.file = file;
    this.tensor = options.tensor;
  }
}

/** Encoder channels and strides of Silero VAD v5 (input channels of the first conv = n_fft/2 + 1 bins). */
const ENCODER = [
  { cout: 128, stride: 1 },
  { cout: 64, stride: 2 },
  { cout: 64, stride: 2 },
  { cout: 128, stride: 1 },
];
const KERNEL = 3;

/** Every tensor of one branch with its shape (PyTorch names, without the `sr<rate>.` prefix). */
export function vadTensorShapes(
  config: Pick<VadConfig, 'hidden_size' | 'sample_rates'>,
  rate: string,
): [string, number[]][] {
  const g = config.sample_rates[rate];
  const h = config.hidden_size;
  const bins = g.n_fft / 2 + 1;
  const out: [string, number[]][] = [['stft.forward_basis_buffer', [2 * bins, 1, g.n_fft]]];
  let cin = bins;
  ENCODER.forEach((e, i) => {
    out.push([`encoder.${i}.reparam_conv.weight`, [e.cout, cin, KERNEL]], [`encoder.${i}.reparam_conv.bias`, [e.cout]]);
    cin = e.cout;
  });
  out.push(
    ['decoder.rnn.weight_ih', [4 * h, cin]],
    ['decoder.rnn.weight_hh', [4 * h, h]],
    ['decoder.rnn.bias_ih', [4 * h]],
    ['decoder.rnn.bias_hh', [4 * h]],
    ['decoder.decoder.2.weight', [1, h, 1]],
    ['decoder.decoder.2.bias', [1]],
  );
  return out;
}

function isInt(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= 1 << 20;
}

/** Validate config.json: the geometry must be Silero v5's (4 STFT frames per step, one LSTM step). */
export function parseVadConfig(text: string, file: string): VadConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new VadModelError(file, `not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const c = json as Partial<VadConfig> | null;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) {
    throw new VadModelError(file, 'config is not a JSON object');
  }
  if (c.format !== 'silero-vad-v5') throw new VadModelError(file, `format ${preview(c.format)} is not "silero-vad-v5"`);
  if (!isInt(c.hidden_size, 1)) {
    throw new VadModelError(file, `hidden_size ${preview(c.hidden_size)} is not a positive integer`);
  }
  const rates = c.sample_rates;
  if (typeof rates !== 'object' || rates === null || Object.keys(rates).length === 0) {
    throw new VadModelError(file, 'sample_rates must map rates to {chunk, context, n_fft, hop}');
  }
  for (const [rate, g] of Object.entries(rates)) {
    const ok =
      /^[1-9][0-9]*$/.test(rate) &&
      typeof g === 'object' &&
      g !== null &&
      isInt(g.n_fft, 4) &&
      g.n_fft % 4 === 0 &&
      g.chunk === 2 * g.n_fft &&
      g.hop === g.n_fft / 2 &&
      g.context === g.n_fft / 4;
    if (!ok) {
      const need = 'need n_fft = 4k, chunk = 2·n_fft, hop = n_fft/2, context = n_fft/4';
      throw new VadModelError(file, `sample_rates[${preview(rate)}] = ${preview(g)}: ${need}`);
    }
  }
  return c as VadConfig;
}

/** Basis rows are w[n]·cos(2πkn/N) then −w[n]·sin(2πkn/N): return w (the k = 0 row) after checking every row. */
function windowOfBasis(basis: Float32Array, nFft: number, file: string, tensor: string): Float32Array {
  const bins = nFft / 2 + 1;
  const w = basis.slice(0, nFft);
  let worst = 0;
  for (let k = 0; k < bins; k++) {
    for (let n = 0; n < nFft; n++) {
      const phase = (2 * Math.PI * ((k * n) % nFft)) / nFft;
      worst = Math.max(worst, Math.abs(basis[k * nFft + n] - w[n] * Math.cos(phase)));
      worst = Math.max(worst, Math.abs(basis[(bins + k) * nFft + n] + w[n] * Math.sin(phase)));
    }
  }
  // f32 rounding of the basis is ~6e-8; anything larger is a different transform.
  if (!(worst <= 1e-6)) {
    const why = `not a windowed DFT basis (deviation ${worst.toExponential(2)}); the forward computes it by FFT`;
    throw new VadModelError(file, why, { tensor });
  }
  return w;
}

/** Where the weights come from: a folder (config.json + model.safetensors), or both files' bytes. */
export type VadSource = FileProvider | { config: string; weights: Uint8Array; name?: string };

function isProvider(s: VadSource): s is FileProvider {
  return typeof (s as FileProvider).open === 'function';
}

/** Load and check every branch named in the config. */
export async function loadVadWeights(source: VadSource): Promise<{ config: VadConfig; branches: VadBranchWeights[] }> {
  const base = isProvider(source) ? source.name : (source.name ?? 'silero-vad');
  const configFile = `${base}/${VAD_CONFIG_FILE}`;
  const weightsFile = `${base}/${VAD_WEIGHTS_FILE}`;
  let configText: string;
  let st: SafetensorsFile;
  try {
    configText = isProvider(source) ? await source.readText(VAD_CONFIG_FILE) : source.config;
  } catch (e) {
    throw new VadModelError(configFile, `cannot read the VAD config: ${(e as Error).message}`, { cause: e });
  }
  const config = parseVadConfig(configText, configFile);
  try {
    const bytesSource = isProvider(source)
      ? await source.open(VAD_WEIGHTS_FILE)
      : new MemorySource(source.weights, weightsFile);
    st = await SafetensorsFile.open(bytesSource);
  } catch (e) {
    throw new VadModelError(weightsFile, `cannot open the VAD weights: ${(e as Error).message}`, { cause: e });
  }
  try {
    const branches: VadBranchWeights[] = [];
    for (const [rate, geometry] of Object.entries(config.sample_rates)) {
      const t = new Map<string, Float32Array>();
      for (const [short, shape] of vadTensorShapes(config, rate)) {
        const name = `sr${rate}.${short}`;
        const info = st.tensors.get(name);
        if (!info) throw new VadModelError(weightsFile, 'missing', { tensor: name });
        if (info.dtype !== 'F32' || info.shape.join() !== shape.join()) {
          const why = `is ${info.dtype} [${info.shape}], expected F32 [${shape}]`;
          throw new VadModelError(weightsFile, why, { tensor: name });
        }
        const bytes = await st.read(name);
        t.set(short, new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
      }
      const get = (short: string): Float32Array => t.get(short) as Float32Array;
      const basis = get('stft.forward_basis_buffer');
      let cin = geometry.n_fft / 2 + 1;
      const encoder = ENCODER.map((e, i) => {
        const prefix = `encoder.${i}.reparam_conv`;
        const layer = { weight: get(`${prefix}.weight`), bias: get(`${prefix}.bias`), cin, ...e };
        cin = e.cout;
        return layer;
      });
      branches.push({
        rate: Number(rate),
        geometry,
        window: windowOfBasis(basis, geometry.n_fft, weightsFile, `sr${rate}.stft.forward_basis_buffer`),
        encoder,
        weightIh: get('decoder.rnn.weight_ih'),
        weightHh: get('decoder.rnn.weight_hh'),
        biasIh: get('decoder.rnn.bias_ih'),
        biasHh: get('decoder.rnn.bias_hh'),
        decoderWeight: get('decoder.decoder.2.weight'),
        decoderBias: get('decoder.decoder.2.bias')[0],
      });
    }
    return { config, branches };
  } catch (e) {
    if (e instanceof VadModelError) throw e;
    throw new VadModelError(weightsFile, `cannot read the VAD weights: ${(e as Error).message}`, { cause: e });
  } finally {
    await st.close();
  }
}
