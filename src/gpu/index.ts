export { Gpu } from './device';
// Host-side half-precision conversions (src/weights/half.ts), re-exported for kernel users.
export { f16BitsToF32, f32ToF16Bits } from '../weights/half';
export type { GpuOptions, GpuCaps, AdapterSummary, OptionalFeature } from './device';
export { Tensor, RowBlockedMatrix, BufferPool, DTYPE_BYTES } from './buffers';
export type { DType, TypedData, PoolStats } from './buffers';
export { PipelineCache } from './pipelines';
export type { KernelSpec } from './pipelines';
export { preprocess, ShaderError } from './shaders';
export type { Defines } from './shaders';
export { Recorder, f32, F32Param, grid } from './recorder';
export { bindSpan, maxBinding, unitsPerBinding, forChunks } from './bindings';
export type { Span } from './bindings';
export type { Param, Binding } from './recorder';
export { Profiler, measure } from './timing';
export type { Measurement } from './timing';
