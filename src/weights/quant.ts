/**
 * INT8 weight quantisation (host side, browser-safe): the checkpoint format written by `npm run quantize`
 * (weights-tools/quantize.ts) and read by the GLM-ASR loader, plus the CPU (de)quantisation used by the tool,
 * the loader's checks and the tests. Details and measurements: docs/int8.md.
 *
 * Scheme "int8-sym-g{G}": every 2-D matmul weight W [N, K] (out, in) is stored as
 *   NAME        I8  [N, K]             q[n, k] ∈ [-127, 127]
 *   NAME.scale  F16 [N, ceil(K / G)]   s[n, g] = max_{k in group g} |W[n, k]| / 127, rounded to f16
 * with W[n, k] ≈ q[n, k] · s[n, ⌊k / G⌋] (symmetric, per output row, groups of G consecutive inputs; the last
 * group of a row is shorter when G does not divide K). q is computed against the f16-rounded scale, so the
 * only error is the rounding of q (≤ s/2 per element). The file's `__metadata__` carries
 * `quantization: "int8-sym-g{G}"`, `group_size: "{G}"`, `scale_dtype: "F16"`. Everything else (norms, biases,
 * conv weights, positional tables) keeps the source dtype.
 */
import type { Checkpoint } from './checkpoint';
import { DTYPE_SIZE, toFloat32 } from './dtype';
import { f16BitsToNumber, f32ToF16Bit } from './half';
import { SafetensorsStreamWriter, type ByteSink, type TensorSpec } from './safetensors-writer';

/** Suffix of the scale tensor of a quantised weight. */
export const SCALE_SUFFIX = '.scale';
/** Group size used when none is asked for (docs/int8.md: speed and accuracy measurements). */
export const DEFAULT_GROUP_SIZE = 64;
/** Group sizes the kernels support (multiples of 32). */
export const GROUP_SIZES = [32, 64, 128] as const;

export interface Int8Scheme {
  /** e.g. "int8-sym-g64" */
  name: string;
  groupSize: number;
  scaleDtype: 'F16';
}

export function schemeName(groupSize: number): string {
  return `int8-sym-g${groupSize}`;
}

/** The `__metadata__` entries of an INT8 checkpoint file. */
export function schemeMetadata(groupSize: number): Record<string, string> {
  return { quantization: schemeName(groupSize), group_size: String(groupSize), scale_dtype: 'F16' };
}

/** Parses a file's metadata; null when the file is not INT8-quantised. Throws on a malformed or unsupported scheme. */
export function parseScheme(metadata: Readonly<Record<string, string>> | null | undefined, where = 'checkpoint'): Int8Scheme | null {
  const q = metadata?.quantization;
  if (q === undefined) return null;
  const m = /^int8-sym-g(\d+)$/.exec(q);
  if (!m) throw new Error(`${where}: unsupported quantization scheme "${q}" (this engine reads int8-sym-g{32,64,128})`);
  const groupSize = Number(m[1]);
  if (metadata?.group_size !== undefined && Number(metadata.group_size) !== groupSize) {
    throw new Error(`${where}: quantization "${q}" disagrees with group_size "${metadata.group_size}"`);
  }
  if (!(GROUP_SIZES as readonly number[]).includes(groupSize)) {
    throw new Error(`${where}: group size ${groupSize} is not one of ${GROUP_SIZES.join(', ')}`);
  }
  const sd = metadata?.scale_dtype ?? 'F16';
  if (sd !== 'F16') throw new Error(`${where}: scale dtype ${sd} is not supported (F16)`);
  return { name: q, groupSize, scaleDtype: 'F16' };
}

/**
 * Whether the tensor `name` of shape `shape` is a matmul weight that the quantiser stores as INT8: every 2-D
 * `*.weight` except the encoder's positional table (not a matmul operand). Norms and biases are 1-D, conv weights 3-D.
 */
export function isQuantizable(name: string, shape: readonly number[]): boolean {
  return shape.length === 2 && name.endsWith('.weight') && !name.endsWith('embed_positions.weight');
}

export const groupsOf = (K: number, G: number): number => Math.ceil(K / G);

/**
 * What is wrong with matrix `name` [rows, cols] as stored by an INT8 checkpoint of `scheme` (I8 [rows, cols] and
 * F16 scales [rows, groups]), or undefined when nothing is. The shape of `name` itself is checked by the caller.
 */
export function int8MatrixProblem(
  tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly dtype?: string }>,
  name: string, shape: readonly number[], scheme: Int8Scheme,
): string | undefined {
  const t = tensors.get(name);
  if (t?.dtype !== 'I8') return `dtype ${t?.dtype}; an ${scheme.name} checkpoint stores matrices as I8 [out, in]`;
  const want = [shape[0], groupsOf(shape[1], scheme.groupSize)];
  const s = tensors.get(name + SCALE_SUFFIX);
  if (!s || s.dtype !== 'F16' || s.shape.length !== 2 || s.shape[0] !== want[0] || s.shape[1] !== want[1]) {
    return `"${name}${SCALE_SUFFIX}" must be F16 [${want}] for ${scheme.name}, found ${s ? `${s.dtype} [${s.shape}]` : 'nothing'}`;
  }
  return undefined;
}

/**
 * Quantises `rows` rows of K f32 weights. Returns q (row-major [rows, K]) and the f16 scale bits
 * ([rows, ceil(K/G)]). Rounding: to nearest, ties away from zero; clamped to ±127.
 */
export function quantizeRows(w: Float32Array, rows: number, K: number, G: number): { q: Int8Array; scales: Uint16Array } {
  if (w.length !== rows * K) throw new RangeError(`quantizeRows: ${w.length} values are not ${rows} rows of ${K}`);
  const groups = groupsOf(K, G);
  const q = new Int8Array(rows * K);
  const scales = new Uint16Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const k0 = r * K + g * G;
      const k1 = r * K + Math.min(K, (g + 1) * G);
      let amax = 0;
      for (let i = k0; i < k1; i++) {
        const a = Math.abs(w[i]);
        if (a > amax) amax = a;
        else if (!(a < Infinity)) amax = NaN; // NaN compares false both ways
        if (Number.isNaN(amax) || amax === Infinity) {
          throw new RangeError(`quantizeRows: row ${r} group ${g} has a non-finite weight`);
        }
      }
      const bits = f32ToF16Bit(amax / 127);
      scales[r * groups + g] = bits;
      const s = f16BitsToNumber(bits);
      if (s === 0) continue; // all zeros (or below f16's range): q stays 0
      const inv = 1 / s;
      for (let i = k0; i < k1; i++) {
        const v = Math.round(Math.abs(w[i]) * inv);
        q[i] = (w[i] < 0 ? -1 : 1) * Math.min(127, v);
      }
    }
  }
  return { q, scales };
}

/** W ≈ q · s as f32 [rows, K] (the reference every INT8 kernel is tested against). */
export function dequantizeRows(q: Int8Array, scales: Uint16Array | Float32Array, rows: number, K: number, G: number): Float32Array {
  const groups = groupsOf(K, G);
  const s = scales instanceof Uint16Array ? Float32Array.from(scales, f16BitsToNumber) : scales;
  const out = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < K; k++) out[r * K + k] = q[r * K + k] * s[r * groups + Math.floor(k / G)];
  }
  return out;
}

/**
 * Bytes per row in the GPU layout (ops/matmul-int8 `Int8Matrix`): each row padded with zeros to a whole number
 * of groups, Kp = groups · G (a multiple of 16, so that rows are vec4<u32>-aligned and every group is full).
 */
export const paddedRowBytes = (K: number, G: number): number => groupsOf(K, G) * G;

/** Rows of K int8 values → rows of paddedRowBytes(K, G) bytes. Returns `q`'s bytes when K is a multiple of G. */
export function padRows(q: Int8Array | Uint8Array, rows: number, K: number, G: number): Uint8Array {
  const src = new Uint8Array(q.buffer, q.byteOffset, rows * K);
  const Kp = paddedRowBytes(K, G);
  if (Kp === K) return src;
  const out = new Uint8Array(rows * Kp);
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * K, (r + 1) * K), r * Kp);
  return out;
}

/**
 * Symmetric per-row, per-group activation quantisation as the W8A8 kernels do it on the GPU (quantize-act.wgsl):
 * s = amax / 127, q = roundEven(x · (127 / amax)). For tests; the GPU result is what the W8A8 reference uses.
 */
export function quantizeActivations(x: Float32Array, M: number, K: number, G: number): { q: Int8Array; scales: Float32Array } {
  const groups = groupsOf(K, G);
  const q = new Int8Array(M * K);
  const scales = new Float32Array(M * groups);
  const f = Math.fround;
  for (let m = 0; m < M; m++) {
    for (let g = 0; g < groups; g++) {
      const k0 = m * K + g * G;
      const k1 = m * K + Math.min(K, (g + 1) * G);
      let amax = 0;
      for (let i = k0; i < k1; i++) amax = Math.max(amax, Math.abs(x[i]));
      scales[m * groups + g] = f(amax / 127);
      if (amax === 0) continue;
      const inv = f(127 / amax);
      for (let i = k0; i < k1; i++) q[i] = Math.max(-127, Math.min(127, roundEven(f(x[i] * inv))));
    }
  }
  return { q, scales };
}

/** Round half to even (WGSL `round`). */
export function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ------------------------------------------------------------------------------------------------------------
// Whole checkpoints
// ------------------------------------------------------------------------------------------------------------

export interface QuantizeCheckpointOptions {
  groupSize?: number;
  /** Host bytes of source tensor data per read (default 32 MiB): bounds memory. */
  chunkBytes?: number;
  onTensor?: (p: { name: string; index: number; total: number; quantized: boolean; bytesIn: number; bytesOut: number }) => void;
}

export interface QuantizeSummary {
  scheme: string;
  tensors: number;
  quantized: number;
  bytesIn: number;
  bytesOut: number;
  /** Largest |w − dequant(w)| / max|w| over each quantised tensor (a sanity check of the rounding). */
  worstRelError: number;
}

/**
 * Writes the INT8 version of `ckpt` (all tensors, in the source order; see the module comment for the format)
 * to `sink` as one safetensors file, streaming tensor by tensor and row chunk by row chunk: host memory stays at
 * about one chunk plus one tensor's scales.
 */
export async function quantizeCheckpoint(ckpt: Checkpoint, sink: ByteSink, opts: QuantizeCheckpointOptions = {}): Promise<QuantizeSummary> {
  const G = opts.groupSize ?? DEFAULT_GROUP_SIZE;
  if (!(GROUP_SIZES as readonly number[]).includes(G)) {
    throw new RangeError(`group size ${G} is not one of ${GROUP_SIZES.join(', ')}`);
  }
  const chunkBytes = opts.chunkBytes ?? 32 << 20;
  for (const f of ckpt.files.values()) {
    if (parseScheme(f.metadata, f.name)) {
      throw new Error(`${f.name} is already quantised (${f.metadata!.quantization})`);
    }
  }
  const names = [...ckpt.tensors.keys()];
  const specs: TensorSpec[] = [];
  const sourceDtypes = new Set<string>();
  for (const name of names) {
    const t = ckpt.get(name);
    if (isQuantizable(name, t.shape)) {
      if (!FLOAT_SOURCES.includes(t.dtype)) {
        throw new Error(`${name}: dtype ${t.dtype} cannot be quantised (BF16, F16 or F32 only)`);
      }
      if (ckpt.has(name + SCALE_SUFFIX)) throw new Error(`${name}${SCALE_SUFFIX} already exists in the source`);
      sourceDtypes.add(t.dtype);
      specs.push({ name, dtype: 'I8', shape: t.shape }, { name: name + SCALE_SUFFIX, dtype: 'F16', shape: [t.shape[0], groupsOf(t.shape[1], G)] });
    } else {
      specs.push({ name, dtype: t.dtype, shape: t.shape });
    }
  }
  const first = ckpt.files.values().next().value;
  const metadata: Record<string, string> = {
    ...(first?.metadata ?? { format: 'pt' }),
    ...schemeMetadata(G),
    quantized_from: [...sourceDtypes].join(',') || 'none',
  };
  const writer = await SafetensorsStreamWriter.create(sink, specs, metadata);
  const summary: QuantizeSummary = { scheme: schemeName(G), tensors: names.length, quantized: 0, bytesIn: 0, bytesOut: writer.totalBytes, worstRelError: 0 };
  try {
    for (const [index, name] of names.entries()) {
      const t = ckpt.get(name);
      summary.bytesIn += t.byteLength;
      const quantized = isQuantizable(name, t.shape);
      if (!quantized) {
        for await (const c of ckpt.readChunks(name, Math.max(chunkBytes, rowBytesOf(t.shape, DTYPE_SIZE[t.dtype])))) await writer.write(name, c.data);
        opts.onTensor?.({ name, index, total: names.length, quantized, bytesIn: t.byteLength, bytesOut: t.byteLength });
        continue;
      }
      const [N, K] = t.shape;
      const groups = groupsOf(K, G);
      const scales = new Uint16Array(N * groups);
      let amax = 0;
      let errMax = 0;
      for await (const c of ckpt.readChunks(name, Math.max(chunkBytes, K * DTYPE_SIZE[t.dtype]))) {
        const rows = c.rowEnd - c.rowStart;
        const w = toFloat32(c.data, t.dtype);
        const r = quantizeRows(w, rows, K, G);
        scales.set(r.scales, c.rowStart * groups);
        for (let i = 0; i < w.length; i++) {
          const a = Math.abs(w[i]);
          if (a > amax) amax = a;
          const e = Math.abs(w[i] - r.q[i] * f16BitsToNumber(r.scales[Math.floor(i / K) * groups + Math.floor((i % K) / G)]));
          if (e > errMax) errMax = e;
        }
        await writer.write(name, new Uint8Array(r.q.buffer, r.q.byteOffset, r.q.byteLength));
      }
      await writer.write(name + SCALE_SUFFIX, new Uint8Array(scales.buffer));
      summary.quantized++;
      if (amax > 0) summary.worstRelError = Math.max(summary.worstRelError, errMax / amax);
      opts.onTensor?.({ name, index, total: names.length, quantized, bytesIn: t.byteLength, bytesOut: N * K + scales.byteLength });
    }
    await writer.finish();
  } catch (e) {
    await writer.abort().catch(() => {});
    throw e;
  }
  return summary;
}

const FLOAT_SOURCES: readonly string[] = ['BF16', 'F16', 'F32'];

function rowBytesOf(shape: readonly number[], elem: number): number {
  return shape.slice(1).reduce((a, b) => a * b, 1) * elem;
}

/** What an opened checkpoint holds: its INT8 scheme (from any file's metadata), or null for a float checkpoint. */
export function checkpointScheme(ckpt: Checkpoint): Int8Scheme | null {
  let found: Int8Scheme | null = null;
  for (const f of ckpt.files.values()) {
    const s = parseScheme(f.metadata, f.name);
    if (s && found && s.name !== found.name) {
      throw new Error(`${ckpt.provider.name}: shards use different quantization schemes (${found.name}, ${s.name})`);
    }
    found ??= s;
  }
  if (!found) {
    const i8 = [...ckpt.tensors.values()].find((t) => t.dtype === 'I8');
    if (i8) {
      throw new Error(`${ckpt.provider.name}: tensor "${i8.name}" is I8 but no file declares a quantization scheme in __metadata__`);
    }
  }
  return found;
}
