/**
 * conv1d rows of the kernel benchmark: the encoder stem for one 30 s window (GFLOP/s = 2·Tout·Cout·Cin·3 / median).
 *   conv1: mel [128, 3000] channel-major → [3000, 1280], stride 1, GELU
 *   conv2: [3000, 1280] time-major → [1500, 1280], stride 2, GELU (14.7 GFLOP)
 * variants: ours-f32 (f32 weights), ours-f16 (array<f16> weights; needs shader-f16), ours-f16-packed (f16 weights
 * read as u32 words, the path without shader-f16).
 */
import { Recorder, f32ToF16Bits, type Gpu } from '../../src/gpu';
import { conv1d, conv1dOutputLength } from '../../src/ops/conv1d';
import { type BenchCase, type BenchInstance, seededUniform } from '../lib';


interface Shape { cin: number; cout: number; t: number; stride: 1 | 2; input: 'channel-major' | 'time-major' }
const CONV1: Shape = { cin: 128, cout: 1280, t: 3000, stride: 1, input: 'channel-major' };
const CONV2: Shape = { cin: 1280, cout: 1280, t: 3000, stride: 2, input: 'time-major' };

function setup(s: Shape, weights: 'f32' | 'native' | 'packed'): (gpu: Gpu) => BenchInstance {
  return (gpu) => {
    const tout = conv1dOutputLength(s.t, s.stride);
    const x = gpu.upload('bench.x', seededUniform(s.cin * s.t, 1), [s.cin * s.t], 'f32');
    const wf = seededUniform(s.cout * s.cin * 3, 2, 0.02);
    const w = weights === 'f32'
      ? gpu.upload('bench.w', wf, [s.cout, s.cin, 3], 'f32')
      : gpu.upload('bench.w16', f32ToF16Bits(wf), [s.cout, s.cin, 3], 'f16');
    const b = gpu.upload('bench.b', seededUniform(s.cout, 3), [s.cout], 'f32');
    const y = gpu.tensor('bench.y', [tout, s.cout], 'f32');
    return {
      run: () => {
        const rec = new Recorder(gpu, 'bench conv1d');
        conv1d(rec, x, w, b, y, {
          input: s.input, stride: s.stride, gelu: true, f16Weights: weights === 'f32' ? undefined : weights,
        });
        rec.submit();
      },
      dispose: () => gpu.release(x, w, b, y),
    };
  };
}

function rows(name: string, s: Shape): BenchCase[] {
  const shape = { Cin: s.cin, Cout: s.cout, T: s.t, stride: s.stride };
  const flops = 2 * conv1dOutputLength(s.t, s.stride) * s.cout * s.cin * 3;
  return [
    { op: name, variant: 'ours-f32', shape, flops, setup: setup(s, 'f32') },
    {
      op: name, variant: 'ours-f16', shape, flops,
      skip: (gpu) => (gpu.caps.f16 ? undefined : 'no shader-f16'), setup: setup(s, 'native'),
    },
    { op: name, variant: 'ours-f16-packed', shape, flops, setup: setup(s, 'packed') },
  ];
}

export const cases: BenchCase[] = [...rows('conv1', CONV1), ...rows('conv2', CONV2)];
