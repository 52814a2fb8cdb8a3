/**
 * GLM-ASR weights on the GPU: every tensor of the official checkpoint (names of spec §7), streamed tensor by
 * tensor in bounded chunks (ranged reads), uploaded as raw bytes into a pooled staging buffer and converted on the
 * GPU (bf16/f16/f32 → the chosen storage type). Host memory stays at about one chunk.
 *
 * Matrices (linear and embedding weights) are RowBlockedMatrix so that a weight larger than one storage binding
 * (the 59264×2048 embedding) is split by rows. Norm weights and biases are f32 tensors. Matrices that read the
 * same input are stacked by rows at load time for fused products: [q; k; v] (with the bias [b_q; 0; b_v] in the
 * encoder) and the decoder's [gate; up] (see linearSplit / linearGlu in src/ops/matmul-int8.ts).
 *
 * INT8 checkpoints (written by `npm run quantize`, docs/int8.md) are read directly: their I8 matrices and F16
 * `.scale` tensors become Int8Matrix (int8 rows padded to whole groups + f32 scales); everything else loads as
 * for a float checkpoint (conv weights as f32). Such a checkpoint can only be loaded with precision 'int8'.
 */
import { f16BitsToF32, type DType, type Gpu, Recorder, type Tensor } from '../../gpu';
import { convert, convertToMatrix, type SourceFormat } from '../../ops/convert';
import { Int8Matrix } from '../../ops/matmul-int8';
import type { WeightMatrix } from '../../ops/linear';
import type { Checkpoint, CheckpointTensorInfo } from '../../weights/checkpoint';
import { asU16 } from '../../weights/dtype';
import { checkpointScheme, groupsOf, padRows, SCALE_SUFFIX } from '../../weights/quant';
import type { GlmAsrConfig } from './config';

/**
 * Storage type of matrix weights. Activations and accumulation are always f32. 'int8' needs an INT8 checkpoint
 * (and is the only precision such a checkpoint loads with).
 */
export type WeightPrecision = 'f32' | 'f16' | 'int8';

export interface Linear {
  w: WeightMatrix;
  b?: Tensor;
}
export interface Norm {
  w: Tensor;
  b?: Tensor;
}
export interface EncoderLayerWeights {
  ln1: Norm;
  /** [q; k; v] rows, bias [b_q; 0; b_v] (k_proj has no bias). */
  qkv: Linear;
  o: Linear;
  ln2: Norm;
  fc1: Linear;
  fc2: Linear;
}
export interface DecoderLayerWeights {
  ln1: Norm;
  /** [q; k; v] rows. */
  qkv: Linear;
  o: Linear;
  ln2: Norm;
  /** [gate; up] rows. */
  gateUp: Linear;
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
  embed: WeightMatrix;
  decoderLayers: DecoderLayerWeights[];
  decoderNorm: Norm;
  /** `embed` itself when the config ties them (as HF does), else the stored lm_head. */
  lmHead: WeightMatrix;
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
  const scheme = checkpointScheme(ckpt);
  if (precision === 'int8' && !scheme) {
    throw new Error(`${ckpt.provider.name}: precision 'int8' needs an INT8 checkpoint (make one with \`npm run quantize -- IN OUT\`); this one holds float weights`);
  }
  if (scheme && precision !== 'int8') {
    throw new Error(`${ckpt.provider.name} is an INT8 checkpoint (${scheme.name}); load it with precision 'int8' (or 'auto'), not '${precision}'`);
  }
  // Conv weights (and everything else that stays float) of an INT8 checkpoint are stored as f32.
  const floatDtype: DType = precision === 'int8' ? 'f32' : precision;
  const chunkBytes = opts.chunkBytes ?? 32 << 20;
  const enc = cfg.encoder;
  const dec = cfg.decoder;
  // Tied embeddings: HF ties lm_head to embed_tokens, so a stored copy (the official file has one, bitwise
  // equal) is skipped rather than loaded twice.
  const lmHeadName = 'language_model.lm_head.weight';
  const skip = new Set(['audio_tower.embed_positions.weight', ...(dec.tiedEmbeddings ? [lmHeadName, lmHeadName + SCALE_SUFFIX] : [])]);
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

  /** Rows [row0, row0 + rows of `name`) of an INT8 matrix: I8 rows (padded on the host to whole groups) and F16 scales (widened to f32). */
  const int8Into = async (m: Int8Matrix, name: string, row0: number): Promise<void> => {
    const t = ckpt.get(name);
    const st = ckpt.has(name + SCALE_SUFFIX) ? ckpt.get(name + SCALE_SUFFIX) : undefined;
    const [rows, cols] = t.shape;
    const G = scheme!.groupSize;
    const groups = groupsOf(cols, G);
    if (t.dtype !== 'I8' || t.shape.length !== 2) throw new Error(`${t.file}: tensor "${name}" is ${t.dtype} [${t.shape}]; an ${scheme!.name} checkpoint stores matrices as I8 [out, in]`);
    if (!st || st.dtype !== 'F16' || st.shape.length !== 2 || st.shape[0] !== rows || st.shape[1] !== groups) {
      throw new Error(`${t.file}: "${name}${SCALE_SUFFIX}" must be F16 [${rows}, ${groups}] for ${scheme!.name}, found ${st ? `${st.dtype} [${st.shape}]` : 'nothing'}`);
    }
    const throttle = async (bytes: number) => {
      bytesDone += bytes;
      sinceSync += bytes;
      if (sinceSync > 256 << 20) {
        await gpu.sync();
        sinceSync = 0;
      }
    };
    for await (const c of ckpt.fileOf(name).readChunks(name, Math.max(chunkBytes, cols))) {
      m.writeQ(gpu, row0 + c.rowStart, padRows(c.data, c.rowEnd - c.rowStart, cols, G));
      await throttle(c.data.byteLength);
    }
    for await (const c of ckpt.fileOf(st.name).readChunks(st.name, Math.max(chunkBytes, groups * 4), { rowMultiple: groups % 2 ? 2 : 1 })) {
      m.writeScales(gpu, row0 + c.rowStart, f16BitsToF32(asU16(c.data)));
      await throttle(c.data.byteLength);
    }
    tensorsDone += 2;
    opts.onProgress?.({ tensor: name, tensorsDone, tensorsTotal: names.length, bytesDone, bytesTotal });
  };

  /** One matrix, or several with the same columns stacked by rows in the order given (fused products). */
  const matrix = async (...parts: string[]): Promise<WeightMatrix> => {
    const shapes = parts.map((n) => (scheme ? ckpt.get(n) : info(n)).shape);
    const cols = shapes[0][1];
    const rows = shapes.reduce((a, sh) => a + sh[0], 0);
    const label = parts.length === 1 ? parts[0] : `${parts[0]}+${parts.length - 1}`;
    const m = scheme ? Int8Matrix.create(gpu, label, rows, cols, scheme.groupSize) : gpu.matrix(label, rows, cols, floatDtype);
    weightBytes += m instanceof Int8Matrix ? m.bytes : m.blocks.reduce((s, b) => s + b.tensor.buffer.size, 0);
    let at = 0;
    for (const [i, name] of parts.entries()) {
      if (shapes[i].length !== 2 || shapes[i][1] !== cols) throw new Error(`"${name}" [${shapes[i]}] cannot be stacked under "${parts[0]}" [${shapes[0]}]`);
      const base = at;
      if (m instanceof Int8Matrix) await int8Into(m, name, base);
      else await stream(name, cols, (rec, staging, row0, n, from) => convertToMatrix(rec, staging, m, { row0: base + row0, rows: n, from }));
      at += shapes[i][0];
    }
    return m;
  };

  /** Streams tensor `name` into `t` from element `at` on. */
  const into = async (t: Tensor, name: string, at: number) => {
    const rowElems = info(name).shape.slice(1).reduce((a, b) => a * b, 1);
    await stream(name, rowElems, (rec, staging, row0, n, from) => convert(rec, staging, t, { from, dstOffset: at + row0 * rowElems, count: n * rowElems }));
  };
  /** Any-shape tensor (norms, biases: f32; conv weights: `dtype`). */
  const tensor = async (name: string, dtype: DType = 'f32'): Promise<Tensor> => {
    const t = gpu.tensor(name, info(name).shape, dtype);
    weightBytes += t.buffer.size;
    await into(t, name, 0);
    return t;
  };
  const linear = async (prefix: string, bias: boolean): Promise<Linear> => ({
    w: await matrix(`${prefix}.weight`),
    b: bias ? await tensor(`${prefix}.bias`) : undefined,
  });
  /** Stacked [q; k; v] projection of an attention block; `bias`: q and v have biases, k has none (zeros). */
  const qkv = async (prefix: string, bias: boolean): Promise<Linear> => {
    const parts = ['q', 'k', 'v'].map((x) => `${prefix}.${x}_proj`);
    const w = await matrix(...parts.map((x) => `${x}.weight`));
    if (!bias) return { w };
    const [q, k] = parts.map((x) => ckpt.get(`${x}.weight`).shape[0]);
    const b = gpu.tensor(`${prefix}.qkv_bias`, [w.rows], 'f32');
    weightBytes += b.buffer.size;
    gpu.write(b, new Float32Array(w.rows)); // zeros where k has no bias (pooled buffers may hold old data)
    await into(b, `${parts[0]}.bias`, 0);
    await into(b, `${parts[2]}.bias`, q + k);
    return { w, b };
  };
  const norm = async (prefix: string, bias: boolean): Promise<Norm> => ({
    w: await tensor(`${prefix}.weight`),
    b: bias ? await tensor(`${prefix}.bias`) : undefined,
  });

  const a = 'audio_tower';
  const conv1 = { w: await tensor(`${a}.conv1.weight`, floatDtype), b: await tensor(`${a}.conv1.bias`) };
  const conv2 = { w: await tensor(`${a}.conv2.weight`, floatDtype), b: await tensor(`${a}.conv2.bias`) };
  const encoderLayers: EncoderLayerWeights[] = [];
  for (let i = 0; i < enc.layers; i++) {
    const p = `${a}.layers.${i}`;
    encoderLayers.push({
      ln1: await norm(`${p}.input_layernorm`, true),
      qkv: await qkv(`${p}.self_attn`, true),
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
      qkv: await qkv(`${p}.self_attn`, false),
      o: await linear(`${p}.self_attn.o_proj`, false),
      ln2: await norm(`${p}.post_attention_layernorm`, false),
      gateUp: { w: await matrix(`${p}.mlp.gate_proj.weight`, `${p}.mlp.up_proj.weight`) },
      down: await linear(`${p}.mlp.down_proj`, false),
    });
  }
  const decoderNorm = await norm(`${l}.norm`, false);
  const lmHead = dec.tiedEmbeddings ? embed : await matrix(lmHeadName);
  await gpu.sync();
  return { precision, conv1, conv2, encoderLayers, encoderNorm, projector1, projector2, embed, decoderLayers, decoderNorm, lmHead, bytes: weightBytes };
}
