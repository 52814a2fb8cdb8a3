/**
 * LayerNorm and RMSNorm over the last axis (f32), optionally fused with the residual add before them:
 * `res = x + r; y = norm(res)`. One workgroup per row; rows beyond one storage binding are split into several
 * dispatches. Norm weights and biases are f32 vectors of length d (they are tiny; convert them at load).
 *
 * @example
 * layerNorm(rec, h, ln.w, ln.b, hn, { label: 'enc.l0.ln1' });                  // hn = LN(h)
 * addLayerNorm(rec, h, attnOut, ln2.w, ln2.b, h, hn, { label: 'enc.l0.ln2' });  // h += attnOut; hn = LN(h)
 * rmsNorm(rec, x, w, x, { eps: 1e-6 });                                         // in place
 */
import { f32, grid, type KernelSpec, type Recorder, type Tensor, bindSpan, forChunks, maxBinding,
  unitsPerBinding } from '../gpu';

export interface NormOptions {
  label?: string;
  /** Added to the variance (mean square) before the inverse square root; default 1e-5. */
  eps?: number;
  /** Per-dispatch binding limit (default: the device's); tests lower it to exercise row splitting. */
  maxBindingBytes?: number;
  /** Force the reduction flavour (tests); default: subgroups when the device has them. */
  subgroups?: boolean;
  /** Force the invocations per row (a power of two in [32, 256]; tuning and tests). */
  workgroupSize?: number;
  /** Force (false) the scalar path even when vec4 loads are possible (tests). */
  vec4?: boolean;
}

/**
 * Invocations per row. CPU adapters (lavapipe, SwiftShader: `caps.cpuAdapter`) run a workgroup as fibers and pay
 * for every barrier with a switch per fiber, so they get 32 (LayerNorm 1500×1280 on lavapipe: 24 ms CPU at 32
 * vs 107 ms at 256). GPUs get ~4 vector elements per invocation, in [64, 256].
 */
export function normWorkgroupSize(vectorsPerRow: number, cpuAdapter: boolean): number {
  if (cpuAdapter) return 32;
  let wg = 64;
  while (wg < 256 && wg * 4 < vectorsPerRow) wg *= 2;
  return wg;
}

/** Can every binding be read as vec4 (row length and all element offsets multiples of 4)? */
function vec4Ok(d: number, bases: number[]): boolean {
  return d % 4 === 0 && bases.every((b) => b % 4 === 0);
}

/** The kernel variant: chosen here and only here. */
export function normKernel(rec: Recorder, d: number, rms: boolean, residual: boolean, inplace: boolean,
  vec4: boolean, subgroups?: boolean, workgroupSize?: number): KernelSpec {
  const vectors = vec4 ? d / 4 : d;
  return {
    shader: 'norm.wgsl',
    defines: { RMS: rms, RESIDUAL: residual, INPLACE: inplace, VEC4: vec4, SUBGROUPS: subgroups ??
      rec.gpu.caps.subgroups },
    constants: { WG: workgroupSize ?? normWorkgroupSize(vectors, rec.gpu.caps.cpuAdapter) },
  };
}

interface NormArgs {
  x: Tensor;
  r?: Tensor;
  w: Tensor;
  b?: Tensor;
  y: Tensor;
  res?: Tensor;
  rms: boolean;
  opts: NormOptions;
}

function norm(rec: Recorder, op: string, a: NormArgs): void {
  const d = a.w.numel;
  if (a.b && a.b.numel !== d) {
    throw new RangeError(`${op}: bias "${a.b.label}" has ${a.b.numel} elements, weight has ${d}`);
  }
  if (a.x.numel % d) {
    throw new RangeError(`${op}: "${a.x.label}" (${a.x.numel} elements) is not a whole number of rows of ${d}`);
  }
  const rows = a.x.numel / d;
  const rowTensors = [a.x, a.r, a.y, a.res].filter((t): t is Tensor => !!t);
  for (const t of [...rowTensors, a.w, a.b]) if (t && t.dtype !== 'f32') throw new TypeError(`${op}: "${t.label}" is ` +
    `${t.dtype}, expected f32`);
  for (const t of rowTensors) if (t.numel !== rows * d) throw new RangeError(`${op}: "${t.label}" has ${t.numel} ` +
    `elements, expected ${rows}×${d}`);

  const residual = !!a.r;
  // In place: y === x (plain) or res === x (residual; res === r is handled by swapping x and r: x + r == r + x).
  let { x, r, res } = a;
  if (residual && res && r && res.buffer === r.buffer && res.byteOffset === r.byteOffset) [x, r] = [r, x];
  const same = (p?: Tensor, q?: Tensor) => !!p && !!q && p.buffer === q.buffer && p.byteOffset === q.byteOffset;
  const inplace = residual ? same(res, x) : same(a.y, x);
  if (residual && !res) throw new Error(`${op}: the residual output is required`);
  if (residual && (same(a.y, x) || same(a.y, r) || same(a.y, res))) {
    throw new Error(`${op}: the normalised output "${a.y.label}" must not alias the inputs or the residual output`);
  }

  const maxBytes = maxBinding(rec, a.opts.maxBindingBytes);
  const per = unitsPerBinding(rec, d * 4, maxBytes);
  const label = a.opts.label ?? op;
  forChunks(rows, per, (row0, n) => {
    const sx = bindSpan(rec, x, row0 * d, n * d, 4, maxBytes);
    const sr = r && bindSpan(rec, r, row0 * d, n * d, 4, maxBytes);
    const sw = bindSpan(rec, a.w, 0, d, 4, maxBytes);
    const sb = a.b && bindSpan(rec, a.b, 0, d, 4, maxBytes);
    const sy = bindSpan(rec, a.y, row0 * d, n * d, 4, maxBytes);
    const sres = res && bindSpan(rec, res, row0 * d, n * d, 4, maxBytes);
    const spans = [sx, sr, sw, sb];
    if (!(inplace && !residual)) spans.push(sy);
    if (residual && !inplace) spans.push(sres);
    const used = spans.filter((s) => !!s).map((s) => s!);
    const vec4 = (a.opts.vec4 ?? true) && vec4Ok(d, used.map((s) => s.base));
    const u = vec4 ? 4 : 1;
    const kernel = normKernel(rec, d, a.rms, residual, inplace, vec4, a.opts.subgroups, a.opts.workgroupSize);
    rec.dispatch(kernel, label, used.map((s) => s.binding),
      [n, d / u, f32(a.opts.eps ?? 1e-5), sx.base / u, (sr?.base ?? 0) / u, sw.base / u, (sb?.base ?? 0) / u,
        sy.base / u, (sres?.base ?? 0) / u],
      grid(n, rec.gpu.caps.maxWorkgroupsPerDimension));
  });
}

/** y = LayerNorm(x) · w + b over the last axis (d = w.numel). `y` may be `x` (in place). */
export function layerNorm(rec: Recorder, x: Tensor, w: Tensor, b: Tensor, y: Tensor, opts: NormOptions = {}): void {
  norm(rec, 'layerNorm', { x, w, b, y, rms: false, opts });
}

/** y = w · x · inverseSqrt(mean(x²) + eps) over the last axis. `y` may be `x` (in place). */
export function rmsNorm(rec: Recorder, x: Tensor, w: Tensor, y: Tensor, opts: NormOptions = {}): void {
  norm(rec, 'rmsNorm', { x, w, y, rms: true, opts });
}

/** res = x + r; y = LayerNorm(res). `res` may be `x` or `r` (in place); `y` must be distinct. */
export function addLayerNorm(rec: Recorder, x: Tensor, r: Tensor, w: Tensor, b: Tensor, res: Tensor, y: Tensor,
  opts: NormOptions = {}): void {
  norm(rec, 'addLayerNorm', { x, r, w, b, y, res, rms: false, opts });
}

/** res = x + r; y = RMSNorm(res). `res` may be `x` or `r` (in place); `y` must be distinct. */
export function addRmsNorm(rec: Recorder, x: Tensor, r: Tensor, w: Tensor, res: Tensor, y: Tensor,
  opts: NormOptions = {}): void {
  norm(rec, 'addRmsNorm', { x, r, w, y, res, rms: true, opts });
}
