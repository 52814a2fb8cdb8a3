/**
 * Conv1d with kernel 3, padding 1, stride 1 or 2, bias and optional exact GELU — the Whisper-style encoder stem
 * — as a register-blocked implicit GEMM. Input is channel-major [W, Cin, T] (the mel layout) or time-major
 * [W, T, Cin]; output is always time-major [W·Tout, Cout]. W windows are convolved independently (each padded
 * on its own: nothing leaks across window edges). Weight [Cout, Cin, 3] in f32 or f16; bias [Cout] f32.
 *
 * @example
 * conv1d(rec, mel, conv1.w, conv1.b, h1, { input: 'channel-major', windows: W, gelu: true });   // [W·3000, 1280]
 * conv1d(rec, h1, conv2.w, conv2.b, h2, { input: 'time-major', windows: W, stride: 2, gelu: true }); // [W·1500, 1280]
 */
import { type KernelSpec, type Recorder, type Tensor, bindSpan, forChunks, maxBinding, unitsPerBinding } from '../gpu';

export interface Conv1dOptions {
  /** Input layout: 'channel-major' [W, Cin, T] or 'time-major' [W, T, Cin]. */
  input: 'channel-major' | 'time-major';
  /** Independent windows stacked along the first axis; default 1. */
  windows?: number;
  stride?: 1 | 2;
  gelu?: boolean;
  /**
   * f16 weights: read them as `array<f16>` ('native', needs shader-f16) or as packed u32 words ('packed').
   * Default: native when available.
   */
  f16Weights?: 'native' | 'packed';
  label?: string;
  maxBindingBytes?: number;
}

/** Output length of a kernel-3, padding-1 convolution. */
export function conv1dOutputLength(t: number, stride: number): number {
  return Math.floor((t + 2 - 3) / stride) + 1;
}

const BM = 128, BN = 64; // output tile per workgroup; must match conv1d.wgsl

/** The kernel variant: chosen here and only here. */
export function conv1dKernel(rec: Recorder, channelMajor: boolean, weight: 'f32' | 'f16',
  f16Weights?: 'native' | 'packed'): KernelSpec {
  const mode = weight === 'f32' ? 'f32' : (f16Weights ?? (rec.gpu.caps.f16 ? 'native' : 'packed'));
  if (mode === 'native' && !rec.gpu.caps.f16) {
    throw new Error('conv1d: native f16 weights need shader-f16; use f16Weights: "packed"');
  }
  return {
    shader: 'conv1d.wgsl',
    defines: { CHANNEL_MAJOR: channelMajor, W_F16: mode === 'native', W_PACKED: mode === 'packed' },
  };
}

export function conv1d(rec: Recorder, x: Tensor, weight: Tensor, bias: Tensor, y: Tensor, o: Conv1dOptions): void {
  const stride = o.stride ?? 1;
  const windows = o.windows ?? 1;
  if (stride !== 1 && stride !== 2) throw new RangeError(`conv1d: stride ${stride} (only 1 or 2)`);
  if (x.dtype !== 'f32' || bias.dtype !== 'f32' || y.dtype !== 'f32') {
    throw new TypeError('conv1d: x, bias and y must be f32');
  }
  if (weight.dtype !== 'f32' && weight.dtype !== 'f16') {
    throw new TypeError(`conv1d: weight "${weight.label}" is ${weight.dtype}; expected f32 or f16`);
  }
  const cout = bias.numel;
  if (weight.numel % (3 * cout)) {
    throw new RangeError(`conv1d: weight "${weight.label}" (${weight.numel} elements) is not [Cout=${cout}, Cin, 3]`);
  }
  const cin = weight.numel / (3 * cout);
  if (weight.shape.length === 3 && (weight.shape[0] !== cout || weight.shape[2] !== 3)) {
    throw new RangeError(`conv1d: weight "${weight.label}" has shape [${weight.shape}], expected [${cout}, Cin, 3]`);
  }
  if (x.numel % (windows * cin)) {
    throw new RangeError(`conv1d: input "${x.label}" (${x.numel} elements) is not ${windows} ` +
      `windows × ${cin} channels`);
  }
  const tin = x.numel / (windows * cin);
  const tout = conv1dOutputLength(tin, stride);
  if (y.numel !== windows * tout * cout) {
    throw new RangeError(`conv1d: output "${y.label}" has ${y.numel} elements, expected ${windows}×${tout}×${cout}`);
  }
  if (tin < 1) return;

  const kernel = conv1dKernel(rec, o.input === 'channel-major', weight.dtype, o.f16Weights);
  const maxBytes = maxBinding(rec, o.maxBindingBytes);
  const per = Math.min(unitsPerBinding(rec, tin * cin * 4, maxBytes), unitsPerBinding(rec, tout * cout * 4, maxBytes));
  const sw = bindSpan(rec, weight, 0, weight.numel, undefined, maxBytes);
  const sb = bindSpan(rec, bias, 0, cout, 4, maxBytes);
  forChunks(windows, per, (w0, n) => {
    const sx = bindSpan(rec, x, w0 * tin * cin, n * tin * cin, 4, maxBytes);
    const sy = bindSpan(rec, y, w0 * tout * cout, n * tout * cout, 4, maxBytes);
    const m = n * tout;
    rec.dispatch(kernel, o.label ?? 'conv1d', [sx.binding, sw.binding, sb.binding, sy.binding],
      [m, cout, 3 * cin, cin, tin, tout, stride, sx.base, sw.base, sb.base, sy.base, o.gelu ? 1 : 0],
      [Math.ceil(cout / BN), Math.ceil(m / BM)]);
  });
}
