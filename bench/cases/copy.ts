/**
 * Memory-bandwidth yardsticks: a 64 MiB copy by a plain compute shader with vec4 loads and stores
 * (shaders/copy.wgsl), and by copyBufferToBuffer. GB/s counts the bytes MOVED, read + written (2 x 64 MiB per
 * run). That is the convention under which the "~3.7 GB/s shader copy on lavapipe" figure is reproduced (the
 * shader copy costs ~70-85 ms of CPU time per 64 MiB here, i.e. ~35-42 ms on two otherwise idle cores:
 * 3.2-3.8 GB/s moved, 1.6-1.9 GB/s read). 64 MiB rather than 256 MiB because lavapipe's largest storage
 * binding is 128 MiB.
 */
import { Recorder, grid, type Gpu } from '../../src/gpu';
import type { BenchCase } from '../lib';

export const COPY_BYTES = 64 << 20;

function buffers(gpu: Gpu) {
  const n = COPY_BYTES / 4;
  const src = gpu.tensor('bench.copy.src', [n], 'u32');
  const dst = gpu.tensor('bench.copy.dst', [n], 'u32');
  // Fill the source once (and touch the destination) so that no run pays first-touch page faults.
  const fill = new Uint32Array(n);
  for (let i = 0; i < n; i++) fill[i] = i;
  gpu.write(src, fill);
  gpu.write(dst, fill);
  return { src, dst };
}

/** Records a vec4 shader copy of `bytes` (a multiple of 16) from src to dst. */
export function shaderCopy(rec: Recorder, src: GPUBuffer, dst: GPUBuffer, bytes: number, label = 'copy'): void {
  const n = bytes / 16;
  rec.dispatch({ shader: 'copy.wgsl', constants: { WG: 256 } }, label,
    [{ buffer: src, size: bytes }, { buffer: dst, size: bytes }], [n],
    grid(Math.ceil(n / 256), rec.gpu.caps.maxWorkgroupsPerDimension));
}

const shape = { MiB: COPY_BYTES >> 20 };
const bytesNote = 'bytes read + written per run (64 MiB each way)';

export const cases: BenchCase[] = [
  {
    op: 'copy', variant: 'copy', shape, bytes: 2 * COPY_BYTES, bytesNote,
    setup(gpu) {
      const { src, dst } = buffers(gpu);
      return {
        run: () => {
          const rec = new Recorder(gpu, 'bench copy');
          shaderCopy(rec, src.buffer, dst.buffer, COPY_BYTES);
          rec.submit();
        },
        dispose: () => gpu.release(src, dst),
      };
    },
  },
  {
    op: 'copy', variant: 'copy-buffer', shape, bytes: 2 * COPY_BYTES, bytesNote,
    setup(gpu) {
      const { src, dst } = buffers(gpu);
      return {
        run: () => {
          const enc = gpu.device.createCommandEncoder({ label: 'bench copyBufferToBuffer' });
          enc.copyBufferToBuffer(src.buffer, 0, dst.buffer, 0, COPY_BYTES);
          gpu.device.queue.submit([enc.finish()]);
        },
        dispose: () => gpu.release(src, dst),
      };
    },
  },
];
