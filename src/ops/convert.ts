/**
 * GPU dtype conversion (weights after a streamed upload): bf16 | f16 | f32 → f32 | f16, at any element offsets,
 * any (odd) count, split into several dispatches when a range exceeds one storage binding.
 *
 *
 * @example
 * const staging = gpu.upload('staging', bf16Bytes, [Math.ceil(n / 2)], 'u32');   // raw bf16, 2 per word
 * convert(rec, staging, weight, { from: 'bf16', count: n, dstOffset: 0 });          // weight: f32 or f16
 */
import { bindSpan, DTYPE_BYTES, forChunks, grid, maxBinding, unitsPerBinding, type KernelSpec, type Recorder,
  type RowBlockedMatrix, type Tensor } from '../gpu';

// ------------------------------------------------------------------------------------------------------------
// Conversion
// ------------------------------------------------------------------------------------------------------------

export type SourceFormat = 'bf16' | 'f16' | 'f32';

export interface ConvertOptions {
  /** How to read the source bytes (the source tensor's own dtype is ignored: bf16 is usually uploaded as u32). */
  from: SourceFormat;
  /** Elements to convert; default: everything from dstOffset to the end of dst. */
  count?: number;
  /** First source element (in `from` elements, relative to the source tensor). */
  srcOffset?: number;
  /** First destination element (relative to the destination tensor). */
  dstOffset?: number;
  /**
   * f16 destinations only: write packed words with integer arithmetic instead of `array<f16>` stores.
   * Default: packed when the device lacks shader-f16. Both give identical bytes.
   */
  packed?: boolean;
  label?: string;
  /** Per-dispatch binding limit (default: the device's); tests lower it to exercise splitting. */
  maxBindingBytes?: number;
  /** false: element-wise kernel only (tests; default: vectorised aligned body when possible). */
  vec?: boolean;
}

const WG = 256;
const PER = 4; // elements (words for packed output) per invocation; must match PER in convert.wgsl
const SRC_BYTES: Record<SourceFormat, number> = { bf16: 2, f16: 2, f32: 4 };

/**
 * The kernel variant for a conversion: chosen here and only here. `vec` selects the aligned-body kernels
 * (8 elements per invocation as vec4 loads/stores; bf16/f16 sources, f32 or f16 destinations).
 */
export function convertKernel(from: SourceFormat, to: 'f32' | 'f16', packed: boolean, vec = false): KernelSpec {
  const base = to === 'f32' ? 'to_f32' : packed || vec ? 'to_f16_packed' : 'to_f16';
  return {
    shader: 'convert.wgsl',
    entryPoint: vec ? `${base}_vec` : base,
    defines: {
      SRC_F32: from === 'f32',
      SRC_BF16: from === 'bf16',
      VEC: vec,
      TO_F32: base === 'to_f32',
      TO_F16: base === 'to_f16',
      TO_F16_PACKED: base === 'to_f16_packed',
    },
    constants: { WG },
  };
}

/**
 * dst[dstOffset + i] = convert(src[srcOffset + i]) for i < count. dst is an f32 or f16 tensor.
 * 16-bit sources take a vectorised path for the part where source and destination are both 16-byte aligned
 * (~3× faster on lavapipe); the few elements before and after it use the element-wise kernel.
 */
export function convert(rec: Recorder, src: Tensor, dst: Tensor, opts: ConvertOptions): void {
  const { from } = opts;
  const to = dst.dtype;
  if (to !== 'f32' && to !== 'f16') {
    throw new TypeError(`convert: destination "${dst.label}" is ${to}; expected f32 or f16`);
  }
  const srcOffset = opts.srcOffset ?? 0;
  const dstOffset = opts.dstOffset ?? 0;
  const count = opts.count ?? dst.numel - dstOffset;
  const srcBytes = SRC_BYTES[from];
  const srcElems = Math.floor(src.byteLength / srcBytes);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`convert: bad count ${count}`);
  if (srcOffset + count > srcElems) {
    throw new RangeError(`convert: source "${src.label}" has ${srcElems} ${from} elements; [${srcOffset}, ` +
      `${srcOffset + count}) requested`);
  }
  if (dstOffset + count > dst.numel) {
    throw new RangeError(`convert: destination "${dst.label}" has ${dst.numel} elements; [${dstOffset}, ` +
      `${dstOffset + count}) requested`);
  }
  if (count === 0) return;
  const packed = to === 'f16' && (opts.packed ?? !rec.gpu.caps.f16);
  if (to === 'f16' && !packed && !rec.gpu.caps.f16) {
    throw new Error('convert: native f16 output needs shader-f16; use packed: true');
  }
  const dstBytes = DTYPE_BYTES[to];
  const maxBytes = maxBinding(rec, opts.maxBindingBytes);
  const label = opts.label ?? `convert ${from}→${to}${packed ? ' (packed)' : ''}`;
  const maxGroups = rec.gpu.caps.maxWorkgroupsPerDimension;

  const scalar = (first: number, n: number) => {
    if (n <= 0) return;
    const kernel = convertKernel(from, to, packed);
    // Even-sized pieces keep packed words whole except at the two ends of the whole range.
    const per = Math.max(2, unitsPerBinding(rec, Math.max(srcBytes, dstBytes) * 2, maxBytes) * 2);
    forChunks(n, per, (f, m) => {
      const s = bindSpan(rec, src, srcOffset + first + f, m, srcBytes, maxBytes);
      const d = bindSpan(rec, dst, dstOffset + first + f, m, dstBytes, maxBytes);
      const units = packed ? ((d.base + m + 1) >> 1) - (d.base >> 1) : m;
      rec.dispatch(kernel, label, [s.binding, d.binding], [m, s.base, d.base],
        grid(Math.ceil(units / (WG * PER)), maxGroups));
    });
  };

  // Aligned body: both byte addresses 16-aligned after `head` elements, in groups of 8 elements.
  let head = -1;
  if (from !== 'f32' && opts.vec !== false) {
    const sb = src.byteOffset + srcOffset * srcBytes;
    const db = dst.byteOffset + dstOffset * dstBytes;
    for (let h = 0; h < 8 && h <= count; h++) {
      if ((sb + h * srcBytes) % 16 === 0 && (db + h * dstBytes) % 16 === 0) { head = h; break; }
    }
  }
  const body = head < 0 ? 0 : Math.floor((count - head) / 8) * 8;
  if (body < 64) {
    scalar(0, count);
    return;
  }
  scalar(0, head);
  const kernel = convertKernel(from, to, packed, true);
  const per = unitsPerBinding(rec, 8 * Math.max(srcBytes, dstBytes), maxBytes) * 8;
  forChunks(body, per, (f, m) => {
    const s = bindSpan(rec, src, srcOffset + head + f, m, srcBytes, maxBytes);
    const d = bindSpan(rec, dst, dstOffset + head + f, m, dstBytes, maxBytes);
    rec.dispatch(kernel, label, [s.binding, d.binding], [m / 8, s.base / 8, d.base / (16 / dstBytes)],
      grid(Math.ceil(m / 8 / (WG * PER)), maxGroups));
  });
  scalar(head + body, count - head - body);
}

/**
 * Converts `rows` rows of source data into rows [row0, row0 + rows) of a row-blocked matrix, across its blocks.
 * `srcOffset` is the source element of the first row.
 */
export interface ConvertToMatrixOptions extends Omit<ConvertOptions, 'count' | 'dstOffset'> {
  /** First matrix row written. */
  row0: number;
  /** Rows converted. */
  rows: number;
}

export function convertToMatrix(rec: Recorder, src: Tensor, m: RowBlockedMatrix, o: ConvertToMatrixOptions): void {
  const { row0, rows, ...opts } = o;
  if (row0 < 0 || row0 + rows > m.rows) {
    throw new RangeError(`convertToMatrix: rows [${row0}, ${row0 + rows}) exceed ${m.rows}`);
  }
  const srcOffset = opts.srcOffset ?? 0;
  for (const b of m.blocks) {
    const lo = Math.max(row0, b.row0);
    const hi = Math.min(row0 + rows, b.row0 + b.rows);
    if (lo >= hi) continue;
    convert(rec, src, b.tensor, { ...opts, srcOffset: srcOffset + (lo - row0) * m.cols,
      dstOffset: (lo - b.row0) * m.cols, count: (hi - lo) * m.cols });
  }
}
