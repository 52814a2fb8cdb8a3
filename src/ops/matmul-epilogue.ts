/**
 * What a matrix product does with its results besides y = x·Wᵀ + b, shared by the float (matmul.ts) and INT8
 * (matmul-int8.ts) kernels through shaders/matmul-epilogue.wgsl:
 *   activation 'gelu'  fused bias + GELU (encoder fc1, projector linear_1): no separate pass over [M, N]
 *   segments           consecutive column ranges written to separate tensors of one buffer: fused Q, K, V
 *                      (one product over the concatenated [q; k; v] weight rows) into q, k and v
 *   gluRows            W is [gate; up]: y = silu(x·gateᵀ) ⊙ (x·upᵀ) in one pass (column-lane kernels only)
 */
import { bindSpan, Tensor, type Binding, type Recorder } from '../gpu';

export interface MatmulEpilogue {
  /** GELU (erf) of the biased product. */
  activation?: 'gelu';
  /**
   * Output columns from `col` on (ascending, at most two) go to `y` ([M, width], row-major, in the same buffer
   * as the main output); the main output keeps columns [0, first col).
   */
  segments?: readonly { col: number; y: Tensor }[];
  /** W holds [gate; up] with `gluRows` rows each; the output is [M, gluRows]. */
  gluRows?: number;
}

const NONE = 0xffffffff;

/** The output binding of a product and the epilogue's kernel parameters (12 u32, see the WGSL Params). */
export interface BoundOutputs {
  binding: Binding;
  /** Element offset of the main output in the binding. */
  yBase: number;
  /** Parameters for a dispatch whose column 0 is global column col0. */
  params(col0: number): number[];
}

/** Checks the epilogue of a product of M rows and N (global) columns whose main output is `y`. */
export function checkEpilogue(label: string, y: Tensor, M: number, N: number, ep: MatmulEpilogue = {}): void {
  const fail = (msg: string): never => { throw new RangeError(`${label}: ${msg}`); };
  const segs = ep.segments ?? [];
  if (segs.length > 2) fail(`at most 2 output segments, got ${segs.length}`);
  let prev = 0;
  for (const [i, s] of segs.entries()) {
    if (!Number.isInteger(s.col) || s.col <= prev || s.col >= N) fail(`segment ${i + 1} starts at column ${s.col}; ` +
      `segments must start in (${prev}, ${N}) in order`);
    prev = s.col;
  }
  for (const [i, s] of segs.entries()) {
    const width = (segs[i + 1]?.col ?? N) - s.col;
    if (s.y.buffer !== y.buffer) fail(`segment "${s.y.label}" is not in the output buffer "${y.label}"`);
    if (s.y.dtype !== 'f32') fail(`segment "${s.y.label}" is ${s.y.dtype}, expected f32`);
    if (s.y.shape[s.y.shape.length - 1] !== width || s.y.numel < M * width) fail(`segment "${s.y.label}" is ` +
      `[${s.y.shape}], expected [${M}, ${width}]`);
  }
  if (ep.gluRows !== undefined) {
    if (segs.length) fail('a GLU product has one output');
    if (!Number.isInteger(ep.gluRows) || ep.gluRows < 1 || 2 * ep.gluRows !== N) fail(`gluRows ${ep.gluRows} must be ` +
      `half of the ${N} weight rows`);
  }
}

/** Binds y together with its output segments (all in y's buffer) as one binding. */
export function bindOutputs(rec: Recorder, y: Tensor, ep: MatmulEpilogue = {}): BoundOutputs {
  const segs = ep.segments ?? [];
  // One binding over y and its segments (all in y's buffer), from the lowest to the highest byte used.
  const all = [y, ...segs.map((s) => s.y)];
  const lo = Math.min(...all.map((t) => t.byteOffset));
  const hi = Math.max(...all.map((t) => t.byteOffset + t.byteLength));
  const span = bindSpan(rec, new Tensor(y.buffer, [(hi - lo) / 4], 'f32', lo), 0, (hi - lo) / 4);
  const at = (t: Tensor) => span.base + (t.byteOffset - lo) / 4;
  const width = (i: number) => segs[i].y.shape[segs[i].y.shape.length - 1]; // rows are [M, width] (checked)
  return {
    binding: span.binding,
    yBase: at(y),
    params: (col0) => [
      ep.activation === 'gelu' ? 1 : 0, col0, segs[0]?.col ?? NONE, segs[1]?.col ?? NONE,
      segs[0] ? at(segs[0].y) : 0, segs[1] ? at(segs[1].y) : 0, segs[0] ? width(0) : 0, segs[1] ? width(1) : 0,
      ep.gluRows ?? 0, 0, 0, 0,
    ],
  };
}

/**
 * Columns of the main output written by a dispatch over N weight rows starting at global column col0: all N,
 * the part before the first segment, or gluRows.
 */
export function mainOutputColumns(N: number, ep: MatmulEpilogue = {}, col0 = 0): number {
  if (ep.gluRows !== undefined) return ep.gluRows;
  const split = ep.segments?.[0]?.col;
  return split === undefined ? N : Math.max(0, Math.min(N, split - col0));
}
