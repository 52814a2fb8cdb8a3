/**
 * Softmax and log-softmax over the last axis of x[rows, n] (f32, numerically stable: max-subtracted, with an
 * online max/sum merge so the row is read twice, not three times). One workgroup per row. `y` may be `x`.
 *
 * @example
 * softmax(rec, scores, scores);        // in place, rows = numel / n
 * logSoftmax(rec, logits, logp, { n: 59264 });
 */
import { grid, type KernelSpec, type Recorder, type Tensor, bindSpan, forChunks, maxBinding,
  unitsPerBinding } from '../gpu';

export interface SoftmaxOptions {
  /** Row length; default the last axis of x. */
  n?: number;
  label?: string;
  maxBindingBytes?: number;
  /** Force the reduction flavour (tests); default: subgroups when the device has them. */
  subgroups?: boolean;
  /** Force the invocations per row (a power of two in [32, 256]; tuning and tests). */
  workgroupSize?: number;
}

/**
 * Invocations per row: 32 on CPU adapters (barriers cost a fiber switch per invocation); else ~8 elements each,
 * in [32, 256].
 */
export function softmaxWorkgroupSize(n: number, cpuAdapter: boolean): number {
  if (cpuAdapter) return 32;
  let wg = 32;
  while (wg < 256 && wg * 8 < n) wg *= 2;
  return wg;
}

/** The kernel variant: chosen here and only here. */
export function softmaxKernel(rec: Recorder, n: number, log: boolean, inplace: boolean, subgroups?: boolean,
  workgroupSize?: number): KernelSpec {
  return {
    shader: 'softmax.wgsl',
    defines: { LOG: log, INPLACE: inplace, SUBGROUPS: subgroups ?? rec.gpu.caps.subgroups },
    constants: { WG: workgroupSize ?? softmaxWorkgroupSize(n, rec.gpu.caps.cpuAdapter) },
  };
}

function run(rec: Recorder, op: string, log: boolean, x: Tensor, y: Tensor, opts: SoftmaxOptions): void {
  const n = opts.n ?? x.shape[x.shape.length - 1];
  for (const t of [x, y]) {
    if (t.dtype !== 'f32') throw new TypeError(`${op}: "${t.label}" is ${t.dtype}, expected f32`);
    if (t.numel !== x.numel) throw new RangeError(`${op}: "${t.label}" has ${t.numel} elements, expected ${x.numel}`);
  }
  if (n < 1 || x.numel % n) {
    throw new RangeError(`${op}: "${x.label}" (${x.numel} elements) is not a whole number of rows of ${n}`);
  }
  const rows = x.numel / n;
  const inplace = x.buffer === y.buffer && x.byteOffset === y.byteOffset;
  const kernel = softmaxKernel(rec, n, log, inplace, opts.subgroups, opts.workgroupSize);
  const maxBytes = maxBinding(rec, opts.maxBindingBytes);
  forChunks(rows, unitsPerBinding(rec, n * 4, maxBytes), (row0, count) => {
    const sx = bindSpan(rec, x, row0 * n, count * n, 4, maxBytes);
    const sy = bindSpan(rec, y, row0 * n, count * n, 4, maxBytes);
    rec.dispatch(kernel, opts.label ?? op, inplace ? [sx.binding] : [sx.binding, sy.binding],
      [count, n, sx.base, sy.base], grid(count, rec.gpu.caps.maxWorkgroupsPerDimension));
  });
}

/** y = softmax(x) over rows of length n (default: the last axis of x). */
export function softmax(rec: Recorder, x: Tensor, y: Tensor, opts: SoftmaxOptions = {}): void {
  run(rec, 'softmax', false, x, y, opts);
}

/** y = log_softmax(x) = (x − max) − log Σ exp(x − max) over rows of length n. */
export function logSoftmax(rec: Recorder, x: Tensor, y: Tensor, opts: SoftmaxOptions = {}): void {
  run(rec, 'logSoftmax', true, x, y, opts);
}
