/**
 * The browser build's entry (`dist/web/glm-asr.browser.js`, built by `scripts/build-web.mjs`): the
 * library's browser-safe API plus the web page's in-browser engine and model cache. One ES module
 * with the WGSL shaders inside; Node-only code (folder paths, the hub download, Dawn) is left out.
 * The web page takes its output formats, resampler and WAV encoder from here too (docs/web.md).
 * The same file is the engine's Web Worker: started by `EngineWorker` as a module worker named
 * `ENGINE_WORKER_NAME`, it answers the page's requests (`worker.ts`) instead of only exporting.
 */
import { inEngineWorker, serveEngine, type EngineScope } from './worker';

export { GlmAsr } from '../models/glm-asr/transcriber';
export type { LoadOptions, TranscribeOptions, TranscribeProgress, Transcription, Segment,
  AudioInput } from '../models/glm-asr/transcriber';
export type { LiveOptions, LiveVadOptions, LiveEvent, LiveSession } from '../models/glm-asr/live';
export { Checkpoint, FileMapProvider, UrlFolderProvider, type FileProvider } from '../weights/checkpoint';
export { decodeAudio, AudioDecodeError, resample, getResampler } from '../audio';
export { SileroVad, VadStream, VadModelError, VadInputError, type VadConfig, type VadSource } from '../vad';
export { encodeWav } from '../audio/wav-encode';
export { Gpu } from '../gpu';
export { toVerboseJson, toSrt, toVtt } from '../formats';
export {
  BrowserEngine,
  webGpuProblem,
  type ModelSource,
  type EngineProgress,
  type LoadedModel,
  type EngineLoadOptions,
  type EngineTranscribeOptions,
  type BrowserTranscription,
} from './engine';
export { EngineWorker } from './engine-client';
export { ENGINE_WORKER_NAME } from './worker';
export {
  MODEL_CACHE_NAME,
  REQUIRED_MODEL_FILES,
  OPTIONAL_MODEL_FILES,
  modelCacheAvailable,
  normalizeBaseUrl,
  listCachedModels,
  clearModelCache,
  openUrlModel,
  type CachedModel,
  type DownloadProgress,
  type OpenUrlModelOptions,
  type OpenedModel,
} from './model-cache';

if (inEngineWorker()) serveEngine(globalThis as unknown as EngineScope);
