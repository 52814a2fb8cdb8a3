/**
 * glm-asr-webgpu — GLM-ASR-Nano speech recognition on WebGPU, in Node (Dawn) and browsers.
 * The kernel library is also available on its own as `glm-asr-webgpu/ops`.
 */
export * from './gpu';
