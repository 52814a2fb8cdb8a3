/**
 * The page's handle on the in-browser engine, which runs in a Web Worker (`worker.ts`) so that loading,
 * decoding and transcribing never block the page: same methods as `BrowserEngine`, each a message to the
 * worker. Files cross as Blobs (no copy), samples and live PCM as transferred buffers.
 *
 * @example
 * const engine = new EngineWorker();           // starts the bundle as a module worker
 * if (await engine.problem()) return;          // no WebGPU in the worker
 * await engine.load({ kind: 'url', url: 'models/demo/' });
 * const result = await engine.transcribe(file, { onProgress: (p) => show(p.stage) });
 */
import type { LiveEvent, LiveOptions, LiveSession } from '../models/glm-asr/live';
import { decodeAudio } from '../audio/decode';
import { sniffContainer } from '../audio/probe';
import type { BrowserTranscription, EngineLoadOptions, EngineProgress, EngineTranscribeOptions, LoadedModel,
  ModelSource } from './engine';
import { ENGINE_WORKER_NAME, type EngineReply, type EngineRequest, type WireAudio, type WireSource } from './worker';

/** Distributes `Omit` over a union (plain `Omit` would merge the request kinds). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

interface Pending {
  onProgress?: (p: EngineProgress) => void;
  onEvent?: (e: LiveEvent) => void;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

function errorFrom(e: { name: string; message: string }): Error {
  return e.name === 'AbortError' ? new DOMException(e.message, 'AbortError') : Object.assign(new Error(e.message),
    { name: e.name });
}

/** Files as they cross to the worker: the folder layout travels beside each file. */
function wireSource(source: ModelSource): WireSource {
  if (source.kind === 'url') return source;
  if (source.kind === 'files') {
    const files = [...source.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
    return { kind: 'files', files, name: source.name };
  }
  throw new TypeError('A FileProvider cannot be sent to the engine worker: give a URL or files.');
}

/**
 * Encoded audio as the worker takes it: WAV (the library's parser works anywhere) goes as the Blob; other
 * formats need WebAudio, which workers lack, so the page decodes them (off its thread, in slices) to samples.
 */
async function wireAudio(audio: Blob, name: string, signal?: AbortSignal): Promise<WireAudio> {
  const head = new Uint8Array(await audio.slice(0, 64).arrayBuffer());
  if (sniffContainer(head) === 'wav') return audio;
  const decoded = await decodeAudio(new Uint8Array(await audio.arrayBuffer()), name, { signal });
  return { samples: decoded.samples, sampleRate: decoded.sampleRate };
}

export class EngineWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private loaded: LoadedModel | null = null;
  private failure: Error | null = null;

  /** Starts the worker from `url` (default: this bundle, which serves the engine when started as the worker). */
  constructor(url: string | URL = import.meta.url) {
    this.worker = new Worker(url, { type: 'module', name: ENGINE_WORKER_NAME });
    this.worker.addEventListener('message', (e: MessageEvent<EngineReply>) => this.onReply(e.data));
    this.worker.addEventListener('error', (e) => {
      // The worker script failed (not found, syntax): nothing will answer, now or later.
      this.failure = new Error(`The engine's worker could not start: ${e.message || 'script error'}`);
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    });
  }

  /** The loaded model, or null. */
  get model(): LoadedModel | null {
    return this.loaded;
  }

  private onReply(m: EngineReply): void {
    const p = this.pending.get(m.id);
    if (!p) return; // settled already (an error then the end of a live session)
    if (m.type === 'progress') p.onProgress?.(m.progress);
    else if (m.type === 'event') p.onEvent?.(m.event);
    else {
      this.pending.delete(m.id);
      if (m.type === 'result') p.resolve(m.value);
      else p.reject(errorFrom(m.error));
    }
  }

  private post(request: WithoutId<EngineRequest>, transfer: Transferable[] = []): number {
    const id = this.nextId++;
    this.worker.postMessage({ ...request, id } as EngineRequest, transfer);
    return id;
  }

  /** Sends a request and waits for its result; `signal` cancels it in the worker. */
  private call<T>(request: WithoutId<EngineRequest>, handlers: Omit<Pending, 'resolve' | 'reject'> = {},
    signal?: AbortSignal, transfer: Transferable[] = []): { id: number; promise: Promise<T> } {
    if (this.failure) return { id: 0, promise: Promise.reject(this.failure) };
    const id = this.post(request, transfer);
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { ...handlers, resolve: resolve as (v: unknown) => void, reject });
    });
    if (signal) {
      const cancel = () => this.post({ op: 'cancel', target: id });
      if (signal.aborted) cancel();
      else signal.addEventListener('abort', cancel, { once: true });
    }
    return { id, promise };
  }

  /** Why WebGPU cannot run in the worker (see `webGpuProblem`), or null. */
  problem(): Promise<string | null> {
    return this.call<string | null>({ op: 'problem' }).promise;
  }

  /** Loads a model in the worker (replacing the current one); see `BrowserEngine.load`. */
  async load(source: ModelSource, options: EngineLoadOptions = {}): Promise<LoadedModel> {
    const { signal, onProgress, precision, vad } = options;
    this.loaded = null;
    const request = { op: 'load' as const, source: wireSource(source), options: { precision, vad } };
    this.loaded = await this.call<LoadedModel>(request, { onProgress }, signal).promise;
    return this.loaded;
  }

  /** Transcribes a file (or 16 kHz samples) in the worker; see `BrowserEngine.transcribe`. */
  async transcribe(audio: Blob | { samples: Float32Array; sampleRate: number },
    options: EngineTranscribeOptions = {}): Promise<BrowserTranscription> {
    const { signal, onProgress, name, beams, maxNewTokens } = options;
    let wire: WireAudio = audio;
    if (audio instanceof Blob) {
      onProgress?.({ stage: 'decode-audio', done: 0, total: 1 });
      wire = await wireAudio(audio, name ?? 'audio', signal);
    }
    const transfer = wire instanceof Blob ? [] : [wire.samples.buffer];
    const request = { op: 'transcribe' as const, audio: wire, options: { name, beams, maxNewTokens } };
    return this.call<BrowserTranscription>(request, { onProgress }, signal, transfer).promise;
  }

  /** Frees the model's GPU memory in the worker. */
  async unload(): Promise<void> {
    this.loaded = null;
    await this.call<void>({ op: 'unload' }).promise;
  }

  /**
   * A live session in the worker (`GlmAsr.live`): `push` copies the PCM into a buffer it transfers, so the
   * caller's array stays usable. Events arrive as the worker yields them.
   */
  live(options: LiveOptions = {}): LiveSession {
    const queue: LiveEvent[] = [];
    let wake: (() => void) | null = null;
    let ended = false;
    let failure: Error | null = null;
    let pushed = 0;
    const rate = options.sampleRate ?? 16000;
    const poke = () => {
      wake?.();
      wake = null;
    };
    const { id, promise } = this.call<null>({ op: 'live', options }, {
      onEvent: (e) => {
        queue.push(e);
        poke();
      },
    });
    const done = promise.then(
      () => undefined,
      (e: Error) => {
        failure = e;
      },
    ).finally(() => {
      ended = true;
      poke();
    });
    const send = (op: 'live-commit' | 'live-clear' | 'live-close' | 'live-abort') => {
      if (!ended) this.post({ op, session: id });
    };
    return {
      push: (pcm) => {
        if (ended) throw new Error('This live session has ended.');
        const own = pcm.slice();
        pushed += own.length;
        this.post({ op: 'live-push', session: id, pcm: own }, [own.buffer]);
      },
      commit: () => send('live-commit'),
      clear: () => send('live-clear'),
      close: async () => {
        send('live-close');
        await done;
        if (failure) throw failure;
      },
      abort: () => send('live-abort'),
      get pushedSeconds() {
        return pushed / rate;
      },
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const e = queue.shift();
          if (e) {
            yield e;
            continue;
          }
          if (ended) {
            if (failure) throw failure;
            return;
          }
          await new Promise<void>((r) => (wake = r));
        }
      },
    };
  }

  /** Stops the worker; the model's GPU memory goes with it. */
  terminate(): void {
    this.worker.terminate();
    this.failure = new Error('The engine worker was stopped.');
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    this.loaded = null;
  }
}
