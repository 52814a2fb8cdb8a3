/**
 * GLM-ASR weights on the GPU: every tensor of the checkpoint's table (`glmAsrTensors` in ./config.ts), streamed
 * to the GPU by `CheckpointUploader` (src/weights/upload.ts).
 *
 * Matrices (linear and embedding weights) are RowBlockedMatrix so that a weight larger than one storage binding
 * (the 59264×2048 embedding) is split by rows. Norm weights and biases are f32 tensors. Matrices that read the
 * same input are stacked by rows at load time for fused products: [q; k; v] (with the bias [b_q; 0; b_v] in the
 * encoder) and the decoder's [gate; up] (see linearSplit / linearGlu in src/ops/linear.ts).
 *
 * INT8 checkpoints (written by `npm run quantize`, docs/int8.md) are read directly: their I8 matrices and F16
 * `.scale` tensors become Int8Matrix; everything else loads as for a float checkpoint (conv weights as f32). Such a
 * checkpoint can only be loaded with precision 'int8'. 4-bit checkpoints (`npm run quantize -- --bits 4`,
 * docs/quantization.md) likewise become Int4Matrix and load only as 'int4'; 'int4' on a float checkpoint quantises
 * the matrices at load (int4-sym-g32, the tool's rounding), so both give the same weights.
 */
import type { DType, Gpu, Tensor } from '../../gpu';
import type { WeightMatrix } from '../../ops/linear';
import type { Checkpoint } from '../../weights/checkpoint';
import { checkpointScheme, DEFAULT_GROUP_SIZE, SCALE_SUFFIX, schemeName, type QuantScheme } from '../../weights/quant';
import { CheckpointUploader, type MatrixStorage, type UploadProgress } from '../../weights/upload';
import { glmAsrTensors, type GlmAsrConfig, type LinearSpec, type TensorSpec } from './config';

/**
 * Storage type of matrix weights. Activations and accumulation are always f32. 'int8' needs an INT8 checkpoint
 * (and is the only precision such a checkpoint loads with); 'int4' takes a 4-bit checkpoint or a float one
 * (quantised at load).
 */
export type WeightPrecision = 'f32' | 'f16' | 'int8' | 'int4';

/** The precision a quantised checkpoint loads with. */
export const schemePrecision = (scheme: QuantScheme): WeightPrecision => (scheme.bits === 4 ? 'int4' : 'int8');

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
  /** Frees every weight buffer (the device stays). */
  destroy(): void;
}

export type LoadProgress = UploadProgress;

export interface LoadWeightsOptions {
  precision: WeightPrecision;
  onProgress?: (p: LoadProgress) => void;
  /** Host bytes per read (default 32 MiB); peak host memory is about this plus one row. */
  chunkBytes?: number;
}

/**
 * Streams every tensor of the table to the GPU. The checkpoint was validated against the config already
 * (`validateAgainstTensors`). When a read or an upload fails, every buffer created so far is destroyed.
 */
export async function loadWeights(gpu: Gpu, ckpt: Checkpoint, cfg: GlmAsrConfig,
  opts: LoadWeightsOptions): Promise<GlmAsrWeights> {
  const { precision } = opts;
  const scheme = checkpointScheme(ckpt);
  if (precision === 'int8' && !scheme) {
    throw new Error(`${ckpt.provider.name}: precision 'int8' needs an INT8 checkpoint ` +
      '(make one with `npm run quantize -- IN OUT`); this one holds float weights');
  }
  if (scheme && precision !== schemePrecision(scheme)) {
    const what = scheme.bits === 4 ? 'a 4-bit' : 'an INT8';
    throw new Error(`${ckpt.provider.name} is ${what} checkpoint (${scheme.name}); ` +
      `load it with precision '${schemePrecision(scheme)}' (or 'auto'), not '${precision}'`);
  }
  const table = glmAsrTensors(cfg);
  // Conv weights (and everything else that stays float) of a quantised model are stored as f32.
  const floatDtype: DType = precision === 'int8' || precision === 'int4' ? 'f32' : precision;
  const atLoad: QuantScheme | null = precision === 'int4' && !scheme
    ? { name: schemeName(DEFAULT_GROUP_SIZE[4], 4), bits: 4, groupSize: DEFAULT_GROUP_SIZE[4], scaleDtype: 'F16' }
    : null;
  const storage: MatrixStorage = scheme ?? atLoad ?? floatDtype as 'f32' | 'f16';
  const names = table.all.flatMap((t) => (scheme && t.kind === 'matrix' ? [t.name, t.name + SCALE_SUFFIX] : [t.name]));
  const up = new CheckpointUploader(gpu, ckpt, { names, chunkBytes: opts.chunkBytes, onProgress: opts.onProgress });
  try {
    const matrix = (...parts: TensorSpec[]) => up.matrix(parts.map((t) => t.name), storage, parts[0].shape[1]);
    const tensor = (t: TensorSpec) => up.tensor(t.name, t.kind === 'conv' ? floatDtype : 'f32');
    const linear = async (l: LinearSpec): Promise<Linear> => ({ w: await matrix(l.w), b: l.b && (await tensor(l.b)) });
    const norm = async (l: LinearSpec): Promise<Norm> => ({ w: await tensor(l.w), b: l.b && (await tensor(l.b)) });
    const conv = async (l: LinearSpec) => ({ w: await tensor(l.w), b: await tensor(l.b!) });
    /** Stacked [q; k; v] projection; where any has a bias, one bias [b_q; b_k; b_v] with zeros for the missing. */
    const qkv = async (q: LinearSpec, k: LinearSpec, v: LinearSpec): Promise<Linear> => {
      const w = await matrix(q.w, k.w, v.w);
      const parts = [q, k, v].map((l, i, all) => ({ l, at: all.slice(0, i).reduce((n, x) => n + x.w.shape[0], 0) }));
      const biased = parts.filter((p) => p.l.b);
      if (!biased.length) return { w };
      const b = await up.vector(`${q.w.name}+qkv_bias`, w.rows, biased.map((p) => ({ name: p.l.b!.name, at: p.at })));
      return { w, b };
    };

    const conv1 = await conv(table.conv1);
    const conv2 = await conv(table.conv2);
    const encoderLayers: EncoderLayerWeights[] = [];
    for (const l of table.encoderLayers) {
      encoderLayers.push({
        ln1: await norm(l.ln1), qkv: await qkv(l.q, l.k, l.v), o: await linear(l.o),
        ln2: await norm(l.ln2), fc1: await linear(l.fc1), fc2: await linear(l.fc2),
      });
    }
    const encoderNorm = await norm(table.encoderNorm);
    const projector1 = await linear(table.projector1);
    const projector2 = await linear(table.projector2);
    const embed = await matrix(table.embed);
    const decoderLayers: DecoderLayerWeights[] = [];
    for (const l of table.decoderLayers) {
      decoderLayers.push({
        ln1: await norm(l.ln1), qkv: await qkv(l.q, l.k, l.v), o: await linear(l.o),
        ln2: await norm(l.ln2), gateUp: { w: await matrix(l.gate.w, l.up.w) }, down: await linear(l.down),
      });
    }
    const decoderNorm = await norm(table.decoderNorm);
    // Tied embeddings (HF's default): the lm_head is the embedding table itself.
    const lmHead = table.lmHead ? await matrix(table.lmHead) : embed;
    await gpu.sync();
    return {
      precision, conv1, conv2, encoderLayers, encoderNorm, projector1, projector2, embed, decoderLayers, decoderNorm,
      lmHead, bytes: up.bytes, destroy: () => up.destroy(),
    };
  } catch (e) {
    up.destroy();
    throw e;
  }
}
