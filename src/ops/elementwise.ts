/**
 * Element-wise ops on flat f32 tensors: residual add, exact GELU, SiLU×mul (SwiGLU gate).
 *
 * @example
 * add(rec, x, attnOut, x2, 'enc.l0.residual');   // x2 = x + attnOut
 */
import { grid, type Recorder, type Tensor } from '../gpu';

const WG = 256;

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
export function add(rec: Recorder, a: Tensor, b: Tensor, out: Tensor, label = 'add'): void {
  dispatch(rec, 'add', false, label, [a, b, out], checkSame('add', a, b, out));
}

/** out = gelu(a), exact erf form. `out` may be `a`? No: bind distinct tensors (WebGPU forbids read+write aliasing). */
export function gelu(rec: Recorder, a: Tensor, out: Tensor, label = 'gelu'): void {
  dispatch(rec, 'gelu', true, label, [a, out], checkSame('gelu', a, out));
}

/** out = silu(gate) * up */
export function siluMul(rec: Recorder, gate: Tensor, up: Tensor, out: Tensor, label = 'silu_mul'): void {
  dispatch(rec, 'silu_mul', false, label, [gate, up, out], checkSame('silu_mul', gate, up, out));
}
