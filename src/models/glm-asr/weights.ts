/**
 * GLM-ASR weights on the GPU: every tensor of the official checkpoint (names of spec §7), streamed tensor by
 * tensor in bounded chunks (ranged reads), uploaded as raw bytes into a pooled staging buffer and converted on the
 * GPU (bf16/f16/f32 → the chosen storage type). Host memory stays at about one chunk.
 *
 * Matrices (linear and embedding weights) are RowBlockedMatrix so that a weight larger than one storage binding
 * (the 59264×2048 embedding) is split by rows. Norm weights and biases are f32 tensors.
 */
import { type DType, type Gpu, Recorder, type RowBlockedMatrix, type Tensor } from '../../gpu';
import { convert, convertToMatrix, type SourceFormat } from '../../ops/convert';
import type { Checkpoint, CheckpointTensorInfo } from '../../weights/checkpoint';
import type { GlmAsrConfig } from './config';

/** Storage type of matrix weights. Activations and accumulation are always f32. */
export type WeightPrecision = 'f32' | 'f16';

export interface Linear {
  w: RowBlockedMatrix;
  b?: Tensor;
}
export interface Norm {
  w: Tensor;
  b?: Tensor;
}
export interface EncoderLayerWeights {
  ln1: Norm;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  ln2: Norm;
  fc1: Linear;
  fc2: Linear;
}
export interface DecoderLayerWeights {
  ln1: Norm;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  ln2: Norm;
  gate: Linear;
  up: Linear;
  down: Linear;
}
export interface GlmAsrWeights {
  precision: WeightPrecision;
  conv1: { w: Tensor; b: Tensor };
  conv2: { w: Tensor; b: Tensor };
  encoderLayers: EncoderLayerWeights[];
  encoderNorm: Norm;
  projector1: Linear;
  projector2: Linear;
  embed: RowBlockedMatrix;
  decoderLayers: DecoderLayerWeights[];
  decoderNorm: Norm;
  /** `embed` itself when the config ties them (as HF does), else the stored lm_head. */
  lmHead: RowBlockedMatrix;
  /** Bytes of all weight buffers. */
  bytes: number;
}

export interface LoadProgress {
  tensor: string;
  tensorsDone: number;
  tensorsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface LoadWeightsOptions {
  precision: WeightPrecision;
  onProgress?: (p: LoadProgress) => void;
  /** Host bytes per read (default 32 MiB); peak host memory is about this plus one row. */
  chunkBytes?: number;
}

const SOURCE: Record<string, SourceFormat> = { BF16: 'bf16', F16: 'f16', F32: 'f32' };

/** Streams every tensor the model needs from `ckpt` to the GPU. Shapes were validated against the config already. */
export async function loadWeights(gpu: Gpu, ckpt: Checkpoint, cfg: GlmAsrConfig, opts: LoadWeightsOptions): Promise<GlmAsrWeights> {
  const { precision } = opts;
  const chunkBytes = opts.chunkBytes ?? 32 << 20;
  const enc = cfg.encoder;
  const dec = cfg.decoder;
  // Tied embeddings: HF ties lm_head to embed_tokens, so a stored copy (the official file has one, bitwise
  // equal) is skipped rather than loaded twice.
  const skip = new Set(['audio_tower.embed_positions.weight', ...(dec.tiedEmbeddings ? ['language_model.lm_head.weight'] : [])]);
  const names = [...ckpt.tensors.keys()].filter((n) => !skip.has(n));
  const bytesTotal = names.reduce((s, n) => s + ckpt.get(n).byteLength, 0);
  let bytesDone = 0;
  let tensorsDone = 0;
  let weightBytes = 0;
  let sinceSync = 0;

  const info = (name: string): CheckpointTensorInfo => {
    const t = ckpt.get(name);
    if (!(t.dtype in SOURCE)) throw new Error(`${t.file}: tensor "${name}" has dtype ${t.dtype}; only BF16, F16 and F32 weights are supported`);
    return t;
  };

  /** Streams `name` into a destination via `sink(staging, rowStart, rows, from)`, chunk by chunk. */
  const stream = async (name: string, rowElems: number, sink: (rec: Recorder, staging: Tensor, row0: number, rows: number, from: SourceFormat) => void) => {
    const t = info(name);
    const from = SOURCE[t.dtype];
    const elemBytes = from === 'f32' ? 4 : 2;
    // Even row counts keep every chunk a whole number of 4-byte words for 2-byte sources.
    const rowMultiple = elemBytes === 2 && rowElems % 2 ? 2 : 1;
    for await (const chunk of ckpt.fileOf(name).readChunks(name, Math.max(chunkBytes, rowElems * elemBytes * 2), { rowMultiple })) {
      const words = Math.ceil(chunk.data.byteLength / 4);
      const staging = gpu.tensor(`staging:${name}`, [words], 'u32');
      gpu.write(staging, chunk.data);
      const rec = new Recorder(gpu, `load ${name}`);
      sink(rec, staging, chunk.rowStart, chunk.rowEnd - chunk.rowStart, from);
      rec.submit();
      gpu.release(staging);
      bytesDone += chunk.data.byteLength;
      sinceSync += chunk.data.byteLength;
      if (sinceSync > 256 << 20) {
        await gpu.sync(); // keep the queue's copies of uploaded chunks bounded
        sinceSync = 0;
      }
    }
    tensorsDone++;
    opts.onProgress?.({ tensor: name, tensorsDone, tensorsTotal: names.length, bytesDone, bytesTotal });
  };

  const matrix = async (name: string, dtype: DType = precision): Promise<RowBlockedMatrix> => {
    const [rows, cols] = info(name).shape;
    const m = gpu.matrix(name, rows, cols, dtype);
    weightBytes += m.blocks.reduce((s, b) => s + b.tensor.buffer.size, 0);
    await stream(name, cols, (rec, staging, row0, n, from) => convertToMatrix(rec, staging, m, row0, n, { from }));
    return m;
  };

  /** Any-shape tensor (norms, biases: f32; conv weights: `dtype`). */
  const tensor = async (name: string, dtype: DType = 'f32'): Promise<Tensor> => {
    const shape = info(name).shape;
    const rowElems = shape.slice(1).reduce((a, b) => a * b, 1);
    const t = gpu.tensor(name, shape, dtype);
    weightBytes += t.buffer.size;
    await stream(name, rowElems, (rec, staging, row0, n, from) => convert(rec, staging, t, { from, dstOffset: row0 * rowElems, count: n * rowElems }));
    return t;
  };
  const linear = async (prefix: string, bias: boolean): Promise<Linear> => ({
    w: await matrix(`${prefix}.weight`),
    b: bias ? await tensor(`${prefix}.bias`) : undefined,
  });
  const norm = async (prefix: string, bias: boolean): Promise<Norm> => ({
    w: await tensor(`${prefix}.weight`),
    b: bias ? await tensor(`${prefix}.bias`) : undefined,
  });

  const a = 'audio_tower';
  const conv1 = { w: await tensor(`${a}.conv1.weight`, precision), b: await tensor(`${a}.conv1.bias`) };
  const conv2 = { w: await tensor(`${a}.conv2.weight`, precision), b: await tensor(`${a}.conv2.bias`) };
  const encoderLayers: EncoderLayerWeights[] = [];
  for (let i = 0; i < enc.layers; i++) {
    const p = `${a}.layers.${i}`;
    encoderLayers.push({
      ln1: await norm(`${p}.input_layernorm`, true),
      q: await linear(`${p}.self_attn.q_proj`, true),
      k: await linear(`${p}.self_attn.k_proj`, false),
      v: await linear(`${p}.self_attn.v_proj`, true),
      o: await linear(`${p}.self_attn.o_proj`, true),
      ln2: await norm(`${p}.post_attention_layernorm`, true),
      fc1: await linear(`${p}.mlp.fc1`, true),
      fc2: await linear(`${p}.mlp.fc2`, true),
    });
  }
  const encoderNorm = await norm(`${a}.norm`, true);
  const projector1 = await linear('multi_modal_projector.linear_1', true);
  const projector2 = await linear('multi_modal_projector.linear_2', true);

  const l = 'language_model.model';
  const embed = await matrix(`${l}.embed_tokens.weight`);
  const decoderLayers: DecoderLayerWeights[] = [];
  for (let i = 0; i < dec.layers; i++) {
    const p = `${l}.layers.${i}`;
    decoderLayers.push({
      ln1: await norm(`${p}.input_layernorm`, false),
      q: await linear(`${p}.self_attn.q_proj`, false),
      k: await linear(`${p}.self_attn.k_proj`, false),
      v: await linear(`${p}.self_attn.v_proj`, false),
      o: await linear(`${p}.self_attn.o_proj`, false),
      ln2: await norm(`${p}.post_attention_layernorm`, false),
      gate: await linear(`${p}.mlp.gate_proj`, false),
      up: await linear(`${p}.mlp.up_proj`, false),
      down: await linear(`${p}.mlp.down_proj`, false),
    });
  }
  const decoderNorm = await norm(`${l}.norm`, false);
  const lmHead = dec.tiedEmbeddings ? embed : await matrix('language_model.lm_head.weight');
  await gpu.sync();
  return { precision, conv1, conv2, encoderLayers, encoderNorm, projector1, projector2, embed, decoderLayers, decoderNorm, lmHead, bytes: weightBytes };
}
