/**
 * The in-browser engine behind the web page's "In this browser (WebGPU)" mode: one `GlmAsr` on the
 * browser's WebGPU device, run by the page inside its engine worker (`worker.ts`, `engine-client.ts`), loaded
 * from a folder URL (downloaded once into Cache Storage, see
 * `model-cache.ts`), from files picked with `<input type=file webkitdirectory>`, or from any
 * `FileProvider`; transcriptions come back in the server's `verbose_json` shape plus the generated
 * token ids, so the page shows both modes with the same code.
 */
import { GlmAsr, type Transcription } from '../models/glm-asr/transcriber';
import type { LiveOptions, LiveSession } from '../models/glm-asr/live';
import type { WeightPrecision } from '../models/glm-asr/weights';
import { toVerboseJson, type VerboseJson } from '../formats';
import { FileMapProvider, UrlFolderProvider, type FileProvider } from '../weights/checkpoint';
import { modelCacheAvailable, normalizeBaseUrl, openUrlModel } from './model-cache';

export type ModelSource =
  /** A folder URL. `cache: false` (or no Cache Storage) reads it with ranged requests and stores nothing. */
  | { kind: 'url'; url: string; headers?: Record<string, string>; cache?: boolean }
  /** Files from a folder picker (their `webkitRelativePath` gives the layout). */
  | { kind: 'files'; files: Iterable<File>; name?: string }
  | { kind: 'provider'; provider: FileProvider };

export interface EngineProgress {
  /** download: model files into the cache; load: weights onto the GPU; then the transcription's stages. */
  stage: 'download' | 'load' | 'decode-audio' | 'vad' | 'encode' | 'generate';
  done: number;
  total: number;
  /** The file being downloaded. */
  file?: string;
}

export interface LoadedModel {
  /** The folder URL or the picked folder's name. */
  name: string;
  /** Where the files came from this time. */
  from: 'network' | 'cache' | 'url-ranged' | 'files' | 'provider';
  /** Bytes fetched over the network for this load. */
  downloadedBytes: number;
  /** GPU memory taken by the weights. */
  gpuBytes: number;
  precision: WeightPrecision;
  /** The WebGPU adapter, e.g. "google swiftshader". */
  adapter: string;
  loadMs: number;
  /** 'vad' when the VAD weights were loaded; 'fixed' (30 s windows) when they could not be fetched. */
  segmenter: 'vad' | 'fixed';
}

export interface EngineLoadOptions {
  /** Weight storage; default 'auto' (f16 where the adapter has shader-f16 and is not a CPU adapter). */
  precision?: WeightPrecision | 'auto';
  /**
   * Folder URL of the Silero VAD weights (the server's /vad/silero-vad-v5/). When it is missing or
   * cannot be read, transcriptions use fixed 30 s windows and `LoadedModel.segmenter` says 'fixed'.
   */
  vad?: { url: string; headers?: Record<string, string> };
  signal?: AbortSignal;
  onProgress?: (p: EngineProgress) => void;
}

export interface EngineTranscribeOptions {
  /** File name for messages. */
  name?: string;
  signal?: AbortSignal;
  beams?: number;
  maxNewTokens?: number;
  onProgress?: (p: EngineProgress) => void;
}

/** The server's `verbose_json` plus what the engine knows besides. */
export interface BrowserTranscription extends VerboseJson {
  /** Generated token ids (no prompt, no eos), all segments in order. */
  tokens: number[];
  /** The model's name (its folder URL or folder name). */
  model: string;
  timings: Transcription['timings'];
  /** How the audio was cut: see `LoadedModel.segmenter`. */
  segmenter: LoadedModel['segmenter'];
}

/**
 * The page's fetch, called as a plain function: a provider calling its own `fetchFn` would be an illegal invocation.
 */
const pageFetch: typeof fetch = (input, init) => globalThis.fetch(input, init);

/** The VAD folder as a provider when its config.json can be fetched, else undefined (fixed windows then). */
async function reachableVad(url: string, headers?: Record<string, string>): Promise<FileProvider | undefined> {
  try {
    const vad = new UrlFolderProvider(url, { headers, fetch: pageFetch });
    return (await vad.exists('config.json')) ? vad : undefined;
  } catch {
    return undefined; // not served here (network error, HTTP error): the model still works with fixed windows
  }
}

/**
 * Why WebGPU cannot run here, or null when an adapter is available. Meant for the page's message:
 * it says what to change.
 */
export async function webGpuProblem(): Promise<string | null> {
  const gpu = (globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined)?.gpu;
  if (!gpu) {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext !== false;
    return secure
      ? 'This browser does not offer WebGPU (navigator.gpu is missing). Use a recent Chrome or Edge (113+), or ' +
        'Firefox / Safari with WebGPU enabled.'
      : 'WebGPU needs a secure page: open this page over https or on localhost (navigator.gpu is missing here).';
  }
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return 'WebGPU is present but no GPU adapter is available (the GPU may be blocked or disabled in ' +
      'the browser settings, see chrome://gpu).';
  } catch (e) {
    return `WebGPU could not open an adapter: ${e instanceof Error ? e.message : String(e)}`;
  }
  return null;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

export class BrowserEngine {
  private asr: GlmAsr | null = null;
  private info: LoadedModel | null = null;
  private loading: Promise<LoadedModel> | null = null;
  /** Transcriptions run one after the other (one device). */
  private tail: Promise<unknown> = Promise.resolve();

  /** The loaded model, or null. */
  get model(): LoadedModel | null {
    return this.asr ? this.info : null;
  }

  /** True while a load is in progress. */
  get busyLoading(): boolean {
    return this.loading !== null;
  }

  /**
   * Loads a model (replacing the current one). Progress: `download` (bytes, URL sources not yet
   * cached), then `load` (weight bytes onto the GPU).
   */
  load(source: ModelSource, options: EngineLoadOptions = {}): Promise<LoadedModel> {
    if (this.loading) return Promise.reject(new Error('A model is already loading.'));
    const job = this.doLoad(source, options).finally(() => {
      this.loading = null;
    });
    this.loading = job;
    return job;
  }

  /** The load in progress (if any); transcriptions wait for it. */
  whenLoaded(): Promise<LoadedModel | null> {
    return this.loading ?? Promise.resolve(this.model);
  }

  private async doLoad(source: ModelSource, options: EngineLoadOptions): Promise<LoadedModel> {
    const { signal, onProgress } = options;
    const t0 = performance.now();
    this.unload();
    let provider: FileProvider;
    let from: LoadedModel['from'];
    let downloadedBytes = 0;
    if (source.kind === 'url') {
      const url = normalizeBaseUrl(source.url);
      if (source.cache !== false && modelCacheAvailable()) {
        const opened = await openUrlModel(url, {
          headers: source.headers,
          signal,
          onProgress: (p) => onProgress?.({ stage: 'download', done: p.bytesDone, total: p.bytesTotal, file: p.file }),
        });
        provider = opened.provider;
        downloadedBytes = opened.downloadedBytes;
        from = opened.fromCache ? 'cache' : 'network';
      } else {
        provider = new UrlFolderProvider(url, { headers: source.headers, fetch: pageFetch });
        from = 'url-ranged';
      }
    } else if (source.kind === 'files') {
      const files = [...source.files];
      if (files.length === 0) throw new Error('No files were selected: pick the folder that holds config.json, ' +
        'tokenizer.json and the model.safetensors file(s).');
      const picked = FileMapProvider.fromFiles(files, source.name);
      if (!(await picked.exists('config.json'))) {
        throw new Error(`The folder "${picked.name}" has no config.json at its top level: pick the checkpoint folder ` +
          `itself (config.json, tokenizer.json, model.safetensors…).`);
      }
      provider = picked;
      from = 'files';
    } else {
      provider = source.provider;
      from = 'provider';
    }
    if (signal?.aborted) throw abortError(signal);

    const vad = options.vad ? await reachableVad(options.vad.url, options.vad.headers) : undefined;
    if (signal?.aborted) throw abortError(signal);
    const asr = await GlmAsr.load(provider, {
      vad,
      precision: options.precision ?? 'auto',
      onProgress: (p) => onProgress?.({ stage: 'load', done: p.bytesDone, total: p.bytesTotal }),
    });
    if (signal?.aborted) {
      asr.dispose();
      throw abortError(signal);
    }
    this.asr = asr;
    const a = asr.gpu.adapter;
    this.info = {
      name: provider.name,
      from,
      downloadedBytes,
      gpuBytes: asr.weights.bytes,
      precision: asr.weights.precision,
      adapter: [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'unknown adapter',
      loadMs: performance.now() - t0,
      segmenter: vad ? 'vad' : 'fixed',
    };
    // A lost device (driver reset, tab in the background for long on some systems) cannot be reused.
    void asr.gpu.device.lost.then(() => {
      if (this.asr === asr) {
        this.asr = null;
        this.info = null;
      }
    });
    return this.info;
  }

  /**
   * Transcribes encoded audio (WAV, and where WebAudio exists — not in workers — what the browser decodes:
   * FLAC, MP3, Ogg, M4A…) or mono samples at any rate. Waits for a load in progress; throws when no model is
   * loaded.
   */
  transcribe(
    audio: Uint8Array | Blob | { samples: Float32Array; sampleRate: number },
    options: EngineTranscribeOptions = {},
  ): Promise<BrowserTranscription> {
    const run = async (): Promise<BrowserTranscription> => {
      await this.whenLoaded();
      const asr = this.asr;
      if (!asr || !this.info) throw new Error('No model is loaded: load one first.');
      const { name: model, segmenter } = this.info;
      options.signal?.throwIfAborted();
      const input = audio instanceof Blob ? new Uint8Array(await audio.arrayBuffer()) : audio;
      const beams = options.beams ?? 1;
      if (beams > asr.maxBeams) throw new RangeError(`In this browser at most ${asr.maxBeams} beams are available; ` +
        `${beams} were asked for.`);
      const t = await asr.transcribe(input, {
        segmenter,
        name: options.name,
        signal: options.signal,
        beams,
        maxNewTokens: options.maxNewTokens,
        onProgress: (p) => options.onProgress?.(p),
      });
      return { ...toVerboseJson(t), tokens: t.tokens, model, timings: t.timings, segmenter };
    };
    const job = this.tail.then(run, run);
    this.tail = job.catch(() => undefined);
    return job;
  }

  /**
   * A live session on the loaded model (`GlmAsr.live`), with its VAD turn detection when the VAD weights were
   * loaded. Waits for a load in progress; throws when no model is loaded.
   */
  async live(options: LiveOptions = {}): Promise<LiveSession> {
    await this.whenLoaded();
    if (!this.asr) throw new Error('No model is loaded: load one first.');
    return this.asr.live(options);
  }

  /** Frees the model's GPU memory. */
  unload(): void {
    this.asr?.dispose();
    this.asr = null;
    this.info = null;
  }
}
