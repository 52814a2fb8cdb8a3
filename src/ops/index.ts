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
export * from './elementwise';
export * from './matmul';
export * from './matmul-int8';
export * from './linear';
export * from './norm';
export * from './softmax';
export * from './rope';
export * from './conv1d';
export * from './embedding';
export * from './convert';
export * from './sample';
export * from './attention';
export * from './kv-cache';

import * as attention from './reference/attention';
import * as conv1d from './reference/conv1d';
import * as convert from './reference/convert';
import * as elementwise from './reference/elementwise';
import * as embedding from './reference/embedding';
import * as matmul from './reference/matmul';
import * as matmulInt8 from './reference/matmul-int8';
import * as norm from './reference/norm';
import * as rope from './reference/rope';
import * as sample from './reference/sample';
import * as softmax from './reference/softmax';

/** Plain-TypeScript CPU references of every kernel family (f64 math), as the tests use them. */
export const ref = { attention, conv1d, convert, elementwise, embedding, matmul, matmulInt8,
  norm, rope, sample, softmax };
