/**
 * glm-asr-webgpu/ops — the kernel library, usable without the model.
 *
 * Each op records dispatches into a `Recorder`; each has a plain-TypeScript reference under `ref`.
 *
 * @example
 * import { Gpu, Recorder } from 'glm-asr-webgpu';
 * import { add, ref } from 'glm-asr-webgpu/ops';
 * const gpu = await Gpu.create();
 * const a = gpu.upload('a', new Float32Array([1, 2, 3]), [3], 'f32');
 * const b = gpu.upload('b', new Float32Array([4, 5, 6]), [3], 'f32');
 * const out = gpu.tensor('out', [3], 'f32');
 * const rec = new Recorder(gpu, 'demo');
 * add(rec, a, b, out);
 * rec.submit();
 * console.log(await gpu.readF32(out)); // Float32Array [5, 7, 9]
 */
export * from '../gpu';
export { add, gelu, siluMul } from './elementwise';
import * as elementwiseRef from './reference/elementwise';
export const ref = { elementwise: elementwiseRef };
