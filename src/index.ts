/**
 * glm-asr-webgpu — GLM-ASR-Nano speech recognition on WebGPU, in Node (Dawn) and browsers. This is the Node
 * entry: its `GlmAsr.load` also takes folder paths, repo ids and 'demo' (browsers: src/web/index.ts).
 *
 * @example
 * import { GlmAsr } from 'glm-asr-webgpu';
 * const asr = await GlmAsr.load('/models/GLM-ASR-Nano-2512');
 * const { text } = await asr.transcribe(new Uint8Array(await readFile('clip.wav')));
 *
 * The kernel library is also available on its own as `glm-asr-webgpu/ops`.
 */
export { GlmAsr } from './models/glm-asr/node';
export type {
  LoadOptions,
  TranscribeOptions,
  TranscribeProgress,
  Transcription,
  Segment,
  AudioInput,
  WindowSamples,
} from './models/glm-asr/transcriber';
export type { LiveOptions, LiveVadOptions, LiveEvent, LiveSession } from './models/glm-asr/live';
export { OptionError, MAX_BATCH, MAX_BEAMS } from './models/glm-asr/options';
export type { BatchStats } from './models/glm-asr/scheduler';
export { parseGlmAsrConfig, ConfigError, type GlmAsrConfig } from './models/glm-asr/config';
export type { WeightPrecision, LoadProgress } from './models/glm-asr/weights';
export { Tokenizer, TokenizerConfigError, buildTranscriptionPrompt } from './tokenizer';
export { decodeAudio, AudioDecodeError, LogMelSpectrogram, resample } from './audio';
export { SileroVad, VadStream, VadModelError, VadInputError, type VadConfig, type VadSource } from './vad';
export { greedy, beamSearch, type SearchModel } from './generate';
export { Checkpoint, FileMapProvider, UrlFolderProvider, type FileProvider } from './weights/checkpoint';
export { SafetensorsFile, SafetensorsError } from './weights/safetensors';
export * from './gpu';
