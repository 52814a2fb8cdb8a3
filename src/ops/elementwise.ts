/**
 * Element-wise ops on flat f32 tensors: residual add, exact GELU, SiLU×mul (SwiGLU gate).
 *
 * @example
 * add(rec, x, attnOut, x2, { label: 'enc.l0.residual' });   // x2 = x + attnOut
 */
import { grid, type Recorder, type Tensor } from '../gpu';

const WG = 256;

/** Options of the ops that take only a label (the label names the dispatch in traces and errors). */
export interface LabelOptions {
  label?: string;
}

function checkSame(op: string, ...ts: Tensor[]): number {
  const n = ts[0].numel;
  for (const t of ts) {
    if (t.numel !== n) throw new RangeError(`${op}: "${t.label}" has ${t.numel} elements, expected ${n}`);
    if (t.dtype !== 'f32') throw new TypeError(`${op}: "${t.label}" is ${t.dtype}, expected f32`);
  }
  return n;
}

function dispatch(rec: Recorder, entryPoint: string, unary: boolean, label: string, ts: Tensor[], n: number) {
  rec.dispatch({ shader: 'elementwise.wgsl', entryPoint, defines: { UNARY: unary }, constants: { WG } },
    label, ts, [n], grid(Math.ceil(n / WG), rec.gpu.caps.maxWorkgroupsPerDimension));
}

/** out = a + b */
export function add(rec: Recorder, a: Tensor, b: Tensor, out: Tensor, opts: LabelOptions = {}): void {
  dispatch(rec, 'add', false, opts.label ?? 'add', [a, b, out], checkSame('add', a, b, out));
}

/** out = gelu(a), exact erf form. `out` may be `a`? No: bind distinct tensors (WebGPU forbids read+write aliasing). */
export function gelu(rec: Recorder, a: Tensor, out: Tensor, opts: LabelOptions = {}): void {
  dispatch(rec, 'gelu', true, opts.label ?? 'gelu', [a, out], checkSame('gelu', a, out));
}

/** out = silu(gate) * up */
export function siluMul(rec: Recorder, gate: Tensor, up: Tensor, out: Tensor, opts: LabelOptions = {}): void {
  dispatch(rec, 'silu_mul', false, opts.label ?? 'silu_mul', [gate, up, out], checkSame('silu_mul', gate, up, out));
}
