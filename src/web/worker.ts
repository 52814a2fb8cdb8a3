/**
 * The engine's Web Worker side: one `BrowserEngine` in a dedicated worker, driven by `EngineWorker`
 * (`engine-client.ts`) on the page. The worker is the browser bundle itself, started as a module worker
 * named `ENGINE_WORKER_NAME`; `index.ts` calls `serveEngine` when it finds itself there. WebGPU
 * (`navigator.gpu`), Cache Storage and `fetch` all exist in dedicated workers, so the model loads, caches and
 * runs here and the page's thread only posts messages.
 */
import type { LiveEvent, LiveOptions, LiveSession } from '../models/glm-asr/live';
import { BrowserEngine, webGpuProblem, type EngineLoadOptions, type EngineProgress, type ModelSource } from './engine';

/** The name the page gives the worker; the bundle serves the engine only in a worker of this name. */
export const ENGINE_WORKER_NAME = 'glm-asr-engine';

/** A picked file and its path inside the picked folder (`webkitRelativePath` does not survive postMessage). */
export interface WireFile {
  file: File;
  path: string;
}

/** `ModelSource` as it crosses to the worker: files with their paths; no provider (it cannot be cloned). */
export type WireSource =
  | Extract<ModelSource, { kind: 'url' }>
  | { kind: 'files'; files: WireFile[]; name?: string };

/** Audio to transcribe: an encoded file, or 16 kHz-or-other mono samples decoded on the page. */
export type WireAudio = Blob | { samples: Float32Array; sampleRate: number };

export type EngineRequest =
  | { id: number; op: 'problem' }
  | { id: number; op: 'load'; source: WireSource; options: Pick<EngineLoadOptions, 'precision' | 'vad'> }
  | { id: number; op: 'transcribe'; audio: WireAudio; options: { name?: string; beams?: number;
    maxNewTokens?: number } }
  | { id: number; op: 'unload' }
  /** Aborts request `target` (a load or a transcription). No reply. */
  | { id: number; op: 'cancel'; target: number }
  /** Opens a live session; its events come back under this id until the session ends (then a result). */
  | { id: number; op: 'live'; options: LiveOptions }
  /** To the live session opened by request `session`. No reply. */
  | { id: number; op: 'live-push'; session: number; pcm: Float32Array | Int16Array }
  | { id: number; op: 'live-commit' | 'live-clear' | 'live-close' | 'live-abort'; session: number };

export type EngineReply =
  | { id: number; type: 'progress'; progress: EngineProgress }
  | { id: number; type: 'event'; event: LiveEvent }
  | { id: number; type: 'result'; value: unknown }
  | { id: number; type: 'error'; error: { name: string; message: string } };

/** What `serveEngine` needs of the worker's global scope. */
export interface EngineScope {
  postMessage(message: EngineReply, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<EngineRequest>) => void): void;
}

/** True inside the page's engine worker (a dedicated worker named `ENGINE_WORKER_NAME`). */
export function inEngineWorker(): boolean {
  const g = globalThis as { WorkerGlobalScope?: abstract new () => unknown; name?: unknown };
  return typeof g.WorkerGlobalScope === 'function' && globalThis instanceof g.WorkerGlobalScope &&
    g.name === ENGINE_WORKER_NAME;
}

function wireError(e: unknown): { name: string; message: string } {
  if (e instanceof Error || e instanceof DOMException) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

function toSource(source: WireSource): ModelSource {
  if (source.kind === 'url') return source;
  // fromFiles reads the folder layout from webkitRelativePath, which the structured clone drops.
  const files = source.files.map(({ file, path }) =>
    Object.defineProperty(file, 'webkitRelativePath', { value: path, configurable: true }));
  return { kind: 'files', files, name: source.name };
}

/** Answers the page's requests with one engine until the worker is terminated. */
export function serveEngine(scope: EngineScope): void {
  const engine = new BrowserEngine();
  const aborts = new Map<number, AbortController>();
  const sessions = new Map<number, LiveSession>();
  /** Session messages that came while their session was opening (it waits for a model load in progress). */
  const opening = new Map<number, Extract<EngineRequest, { session: number }>[]>();
  const reply = (m: EngineReply) => scope.postMessage(m);

  async function run(id: number, work: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
    const ctrl = new AbortController();
    aborts.set(id, ctrl);
    try {
      reply({ id, type: 'result', value: await work(ctrl.signal) });
    } catch (e) {
      reply({ id, type: 'error', error: wireError(e) });
    } finally {
      aborts.delete(id);
    }
  }

  async function live(id: number, options: LiveOptions): Promise<void> {
    let session: LiveSession;
    opening.set(id, []);
    try {
      session = await engine.live(options);
    } catch (e) {
      opening.delete(id);
      reply({ id, type: 'error', error: wireError(e) });
      return;
    }
    sessions.set(id, session);
    const early = opening.get(id) ?? [];
    opening.delete(id);
    for (const m of early) toSession(session, m);
    try {
      for await (const event of session) reply({ id, type: 'event', event });
      reply({ id, type: 'result', value: null });
    } catch (e) {
      reply({ id, type: 'error', error: wireError(e) });
    } finally {
      sessions.delete(id);
    }
  }

  scope.addEventListener('message', (e) => {
    const m = e.data;
    const progress = (p: EngineProgress) => reply({ id: m.id, type: 'progress', progress: p });
    switch (m.op) {
      case 'problem':
        void run(m.id, () => webGpuProblem());
        return;
      case 'load':
        void run(m.id, (signal) => engine.load(toSource(m.source), { ...m.options, signal, onProgress: progress }));
        return;
      case 'transcribe':
        void run(m.id, (signal) => engine.transcribe(m.audio, { ...m.options, signal, onProgress: progress }));
        return;
      case 'unload':
        void run(m.id, async () => engine.unload());
        return;
      case 'cancel':
        aborts.get(m.target)?.abort(new DOMException('Cancelled.', 'AbortError'));
        return;
      case 'live':
        void live(m.id, m.options);
        return;
      default: {
        const session = sessions.get(m.session);
        if (session) toSession(session, m);
        else opening.get(m.session)?.push(m); // else it ended already: late pushes and stops are harmless
      }
    }
  });

  function toSession(session: LiveSession, m: Extract<EngineRequest, { session: number }>): void {
    try {
      if (m.op === 'live-push') session.push(m.pcm);
      else if (m.op === 'live-commit') session.commit();
      else if (m.op === 'live-clear') session.clear();
      else if (m.op === 'live-abort') session.abort();
      else void session.close().catch(() => undefined); // its error, if any, ends the iteration in live()
    } catch (err) {
      session.abort();
      reply({ id: m.session, type: 'error', error: wireError(err) });
    }
  }
}
