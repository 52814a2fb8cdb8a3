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
 *
 * Scheme "int4-sym-g{G}" (docs/quantization.md): the same, with 4-bit codes two per byte,
 *   NAME        U8  [N, ceil(K / 2)]   byte b of a row holds k = 2b (low nibble) and 2b + 1 (high nibble);
 *                                     nibble c = q + 8, q ∈ [-8, 7]
 *   NAME.scale  F16 [N, ceil(K / G)]   s = −w* / 8 where w* is the group's weight of largest magnitude (signed)
 * with W ≈ q · s: w* is exactly −8 · s, and the 16 codes cover [−8s, 7s] (symmetric, sign carried by s).
 */
import type { Checkpoint } from './checkpoint';
import { DTYPE_SIZE, toFloat32 } from './dtype';
import { f16BitsToNumber, f32ToF16Bit } from './half';
import { SafetensorsStreamWriter, type ByteSink, type TensorSpec } from './safetensors-writer';

/** Suffix of the scale tensor of a quantised weight. */
export const SCALE_SUFFIX = '.scale';
/** Group size used when none is asked for, per bit width (docs/int8.md, docs/quantization.md: measurements). */
export const DEFAULT_GROUP_SIZE: Readonly<Record<QuantBits, number>> = { 8: 64, 4: 32 };
/** Group sizes the kernels support (multiples of 32). */
export const GROUP_SIZES = [32, 64, 128] as const;

/** Bits per stored weight code. */
export type QuantBits = 8 | 4;

export interface QuantScheme {
  /** e.g. "int8-sym-g64", "int4-sym-g32" */
  name: string;
  bits: QuantBits;
  groupSize: number;
  scaleDtype: 'F16';
}

export function schemeName(groupSize: number, bits: QuantBits = 8): string {
  return `int${bits}-sym-g${groupSize}`;
}

/** The `__metadata__` entries of a quantised checkpoint file. */
export function schemeMetadata(groupSize: number, bits: QuantBits = 8): Record<string, string> {
  return { quantization: schemeName(groupSize, bits), group_size: String(groupSize), scale_dtype: 'F16' };
}

/** Parses a file's metadata; null when the file is not quantised. Throws on a malformed or unsupported scheme. */
export function parseScheme(metadata: Readonly<Record<string, string>> | null | undefined,
  where = 'checkpoint'): QuantScheme | null {
  const q = metadata?.quantization;
  if (q === undefined) return null;
  const m = /^int(8|4)-sym-g(\d+)$/.exec(q);
  if (!m) {
    throw new Error(`${where}: unsupported quantization scheme "${q}" ` +
      '(this engine reads int8-sym-g{32,64,128} and int4-sym-g{32,64,128})');
  }
  const bits = Number(m[1]) as QuantBits;
  const groupSize = Number(m[2]);
  if (metadata?.group_size !== undefined && Number(metadata.group_size) !== groupSize) {
    throw new Error(`${where}: quantization "${q}" disagrees with group_size "${metadata.group_size}"`);
  }
  if (!(GROUP_SIZES as readonly number[]).includes(groupSize)) {
    throw new Error(`${where}: group size ${groupSize} is not one of ${GROUP_SIZES.join(', ')}`);
  }
  const sd = metadata?.scale_dtype ?? 'F16';
  if (sd !== 'F16') throw new Error(`${where}: scale dtype ${sd} is not supported (F16)`);
  return { name: q, bits, groupSize, scaleDtype: 'F16' };
}

/**
 * Whether the tensor `name` of shape `shape` is a matmul weight that the quantiser stores as INT8: every 2-D
 * `*.weight` except the encoder's positional table (not a matmul operand). Norms and biases are 1-D, conv weights 3-D.
 */
export function isQuantizable(name: string, shape: readonly number[]): boolean {
  return shape.length === 2 && name.endsWith('.weight') && !name.endsWith('embed_positions.weight');
}

export const groupsOf = (K: number, G: number): number => Math.ceil(K / G);

/** The stored shape of a quantised matrix of logical shape [rows, cols]: I8 [rows, cols] or U8 [rows, ⌈cols/2⌉]. */
export function storedShape(shape: readonly number[], bits: QuantBits): number[] {
  return bits === 8 ? [shape[0], shape[1]] : [shape[0], packedRowBytes4(shape[1])];
}

/**
 * What is wrong with matrix `name` of logical shape [rows, cols] as stored by a checkpoint of `scheme` (I8
 * [rows, cols] or packed U8 [rows, ceil(cols/2)], and F16 scales [rows, groups]), or undefined when nothing is.
 */
export function quantMatrixProblem(
  tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly dtype?: string }>,
  name: string, shape: readonly number[], scheme: QuantScheme,
): string | undefined {
  const t = tensors.get(name);
  const dtype = scheme.bits === 8 ? 'I8' : 'U8';
  const stored = storedShape(shape, scheme.bits);
  const what = scheme.bits === 8 ? `I8 [${stored}]` : `U8 [${stored}] (two 4-bit codes per byte)`;
  if (t?.dtype !== dtype || t.shape.length !== 2 || t.shape[0] !== stored[0] || t.shape[1] !== stored[1]) {
    return `${t ? `${t.dtype} [${t.shape}]` : 'missing'}; an ${scheme.name} checkpoint stores it as ${what}`;
  }
  const want = [shape[0], groupsOf(shape[1], scheme.groupSize)];
  const s = tensors.get(name + SCALE_SUFFIX);
  if (!s || s.dtype !== 'F16' || s.shape.length !== 2 || s.shape[0] !== want[0] || s.shape[1] !== want[1]) {
    const found = s ? `${s.dtype} [${s.shape}]` : 'nothing';
    return `"${name}${SCALE_SUFFIX}" must be F16 [${want}] for ${scheme.name}, found ${found}`;
  }
  return undefined;
}

/**
 * Quantises `rows` rows of K f32 weights. Returns q (row-major [rows, K]) and the f16 scale bits
 * ([rows, ceil(K/G)]). Rounding: to nearest, ties away from zero; clamped to ±127.
 */
export function quantizeRows(
  w: Float32Array, rows: number, K: number, G: number,
): { q: Int8Array; scales: Uint16Array } {
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
export function dequantizeRows(
  q: Int8Array, scales: Uint16Array | Float32Array, rows: number, K: number, G: number,
): Float32Array {
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

// ------------------------------------------------------------------------------------------------------------
// 4-bit
// ------------------------------------------------------------------------------------------------------------

/** Bytes of one stored 4-bit row of K codes (two per byte; an odd K leaves the last high nibble 0). */
export const packedRowBytes4 = (K: number): number => Math.ceil(K / 2);

/**
 * Quantises `rows` rows of K f32 weights to 4 bits. Returns the packed codes ([rows, ceil(K/2)] bytes, nibble
 * c = q + 8) and the f16 scale bits ([rows, ceil(K/G)]). s = −w* / 8 (w*: the group's weight of largest magnitude),
 * rounded to f16; q = round(w / s) to nearest, ties away from zero, clamped to [−8, 7]; |w − q·s| ≤ |s|.
 */
export function quantizeRows4(w: Float32Array, rows: number, K: number,
  G: number): { packed: Uint8Array; scales: Uint16Array } {
  if (w.length !== rows * K) throw new RangeError(`quantizeRows4: ${w.length} values are not ${rows} rows of ${K}`);
  const groups = groupsOf(K, G);
  const rb = packedRowBytes4(K);
  const packed = new Uint8Array(rows * rb);
  const scales = new Uint16Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const k0 = g * G;
      const k1 = Math.min(K, k0 + G);
      let peak = 0;
      for (let k = k0; k < k1; k++) {
        const v = w[r * K + k];
        if (!Number.isFinite(v)) throw new RangeError(`quantizeRows4: row ${r} group ${g} has a non-finite weight`);
        if (Math.abs(v) > Math.abs(peak)) peak = v;
      }
      const bits = f32ToF16Bit(peak === 0 ? 0 : -peak / 8); // +0, not -0, for an all-zero group
      scales[r * groups + g] = bits;
      const s = f16BitsToNumber(bits);
      const inv = s === 0 ? 0 : 1 / s; // all zeros (or below f16's range): q = 0
      for (let k = k0; k < k1; k++) {
        const x = w[r * K + k] * inv;
        const q = Math.max(-8, Math.min(7, Math.sign(x) * Math.round(Math.abs(x))));
        packed[r * rb + (k >> 1)] |= (q + 8) << ((k & 1) * 4);
      }
    }
  }
  return { packed, scales };
}

/** W ≈ q · s as f32 [rows, K] from packed 4-bit rows (the reference every 4-bit kernel is tested against). */
export function dequantizeRows4(packed: Uint8Array, scales: Uint16Array | Float32Array, rows: number, K: number,
  G: number): Float32Array {
  const groups = groupsOf(K, G);
  const rb = packedRowBytes4(K);
  if (packed.length < rows * rb) {
    throw new RangeError(`dequantizeRows4: ${packed.length} bytes are fewer than ${rows} rows of ${rb}`);
  }
  const s = scales instanceof Uint16Array ? Float32Array.from(scales, f16BitsToNumber) : scales;
  const out = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < K; k++) {
      const q = ((packed[r * rb + (k >> 1)] >> ((k & 1) * 4)) & 15) - 8;
      out[r * K + k] = q * s[r * groups + Math.floor(k / G)];
    }
  }
  return out;
}

/**
 * Stored 4-bit rows ([rows, ceil(K/2)] bytes) → the GPU layout (ops/matmul-int4 `Int4Matrix`): rows of
 * groups · G / 2 bytes, padded with code 8 (q = 0), so every group is whole and rows are 16-byte aligned.
 */
export function padRows4(packed: Uint8Array, rows: number, K: number, G: number): Uint8Array {
  const rb = packedRowBytes4(K);
  const rp = (groupsOf(K, G) * G) / 2;
  if (rp === rb && K % 2 === 0) return packed.subarray(0, rows * rb);
  const out = new Uint8Array(rows * rp).fill(0x88);
  for (let r = 0; r < rows; r++) {
    out.set(packed.subarray(r * rb, (r + 1) * rb), r * rp);
    if (K % 2) out[r * rp + rb - 1] = (out[r * rp + rb - 1] & 0x0f) | 0x80; // the unused high nibble
  }
  return out;
}

/**
 * Symmetric per-row, per-group activation quantisation as the W8A8 kernels do it on the GPU (quantize-act.wgsl):
 * s = amax / 127, q = roundEven(x · (127 / amax)). For tests; the GPU result is what the W8A8 reference uses.
 */
export function quantizeActivations(
  x: Float32Array, M: number, K: number, G: number,
): { q: Int8Array; scales: Float32Array } {
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
  /** 8 (default) or 4. */
  bits?: QuantBits;
  groupSize?: number;
  /** Host bytes of source tensor data per read (default 32 MiB): bounds memory. */
  chunkBytes?: number;
  onTensor?: (p: {
    name: string; index: number; total: number; quantized: boolean; bytesIn: number; bytesOut: number;
  }) => void;
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
 * Writes the INT8 or 4-bit version of `ckpt` (all tensors, in the source order; see the module comment for the format)
 * to `sink` as one safetensors file, streaming tensor by tensor and row chunk by row chunk: host memory stays at
 * about one chunk plus one tensor's scales.
 */
export async function quantizeCheckpoint(
  ckpt: Checkpoint, sink: ByteSink, opts: QuantizeCheckpointOptions = {},
): Promise<QuantizeSummary> {
  const bits = opts.bits ?? 8;
  if (bits !== 8 && bits !== 4) throw new RangeError(`${bits} bits: only 8 and 4 are supported`);
  const G = opts.groupSize ?? DEFAULT_GROUP_SIZE[bits];
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
      specs.push({ name, dtype: bits === 8 ? 'I8' : 'U8', shape: storedShape(t.shape, bits) },
        { name: name + SCALE_SUFFIX, dtype: 'F16', shape: [t.shape[0], groupsOf(t.shape[1], G)] });
    } else {
      specs.push({ name, dtype: t.dtype, shape: t.shape });
    }
  }
  const first = ckpt.files.values().next().value;
  const metadata: Record<string, string> = {
    ...(first?.metadata ?? { format: 'pt' }),
    ...schemeMetadata(G, bits),
    quantized_from: [...sourceDtypes].join(',') || 'none',
  };
  const writer = await SafetensorsStreamWriter.create(sink, specs, metadata);
  const summary: QuantizeSummary = {
    scheme: schemeName(G, bits), tensors: names.length, quantized: 0, bytesIn: 0, bytesOut: writer.totalBytes,
    worstRelError: 0,
  };
  try {
    for (const [index, name] of names.entries()) {
      const t = ckpt.get(name);
      summary.bytesIn += t.byteLength;
      const quantized = isQuantizable(name, t.shape);
      if (!quantized) {
        const readBytes = Math.max(chunkBytes, rowBytesOf(t.shape, DTYPE_SIZE[t.dtype]));
        for await (const c of ckpt.readChunks(name, readBytes)) await writer.write(name, c.data);
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
        const r = bits === 8 ? quantizeRows(w, rows, K, G) : quantizeRows4(w, rows, K, G);
        scales.set(r.scales, c.rowStart * groups);
        const deq = 'q' in r
          ? dequantizeRows(r.q, r.scales, rows, K, G) : dequantizeRows4(r.packed, r.scales, rows, K, G);
        for (let i = 0; i < w.length; i++) {
          amax = Math.max(amax, Math.abs(w[i]));
          errMax = Math.max(errMax, Math.abs(w[i] - deq[i]));
        }
        const codes = 'q' in r ? r.q : r.packed;
        await writer.write(name, new Uint8Array(codes.buffer, codes.byteOffset, codes.byteLength));
      }
      await writer.write(name + SCALE_SUFFIX, new Uint8Array(scales.buffer));
      summary.quantized++;
      if (amax > 0) summary.worstRelError = Math.max(summary.worstRelError, errMax / amax);
      opts.onTensor?.({
        name, index, total: names.length, quantized, bytesIn: t.byteLength,
        bytesOut: N * storedShape(t.shape, bits)[1] + scales.byteLength,
      });
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

/** What an opened checkpoint holds: its quantization scheme (from any file's metadata), or null for float weights. */
export function checkpointScheme(ckpt: Checkpoint): QuantScheme | null {
  let found: QuantScheme | null = null;
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
      throw new Error(
        `${ckpt.provider.name}: tensor "${i8.name}" is I8 but no file declares a quantization scheme in __metadata__`);
    }
  }
  return found;
}
