/**
 * What the server's plugins share: the resolved options, the job queue and the per-request
 * bookkeeping. Built once by `buildServer`, handed to every plugin as its option.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyRequest } from 'fastify';
import type { QueueFrontEnd } from '../queue/frontend';
import { JobQueue } from './queue';
import type { RealtimeOptions } from './realtime';
import type { Transcriber } from './transcriber';

/** 25 MiB, OpenAI's upload limit. */
export const DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024;
export const DEFAULT_MAX_AUDIO_SECONDS = 630;
export const DEFAULT_QUEUE_SIZE = 16;
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { max: 120, timeWindowMs: 60_000 };
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_NEW_TOKENS_LIMIT = 4096;

/** The file name of the browser bundle, served at `/glm-asr.browser.js`. */
export const BROWSER_BUNDLE = 'glm-asr.browser.js';

export interface RateLimitOptions {
  /** Requests allowed per window and bucket. */
  max: number;
  timeWindowMs: number;
}

/** Receives one JSON document (no trailing newline) per request. */
export type LogSink = (line: string) => void;

export interface ServerOptions {
  transcriber: Transcriber;
  /** When set, `/v1/*` requires `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Largest accepted upload (the file part). Default 25 MiB. */
  maxUploadBytes?: number;
  /** Longest accepted audio, in seconds. Default 630. */
  maxAudioSeconds?: number;
  /** Most transcriptions waiting behind the running ones (the transcriber's `maxBatch` run at once). Default 16. */
  queueSize?: number;
  /** Per API key (when the request has the valid key) or per client IP, on `/v1/*`. `false` = off. */
  rateLimit?: RateLimitOptions | false;
  /** Request log: a sink, `true` (default) = stdout, `false` = off. */
  logger?: LogSink | boolean;
  /** How the client IP appears in the log: as-is (default), an HMAC with a per-process key, or not at all. */
  logClientIp?: 'full' | 'hash' | 'off';
  /** Folder with index.html / app.js / style.css. Default: the package's `web/`; `false` = no web page. */
  webRoot?: string | false;
  /**
   * Folder holding the browser bundle `glm-asr.browser.js` (built by `npm run build` into `dist/web/`),
   * served at `/glm-asr.browser.js` for the page's in-browser mode. Default: found next to the package;
   * `false` = not served (the page then keeps the in-browser mode off).
   */
  browserBundleDir?: string | false;
  /**
   * Checkpoint folder whose files the page may download at `/models/<id>/` to run the model in the
   * browser (read-only, only the checkpoint's known file names, Range requests supported, API key
   * required when one is set). Default: the transcriber's `modelId` when it is such a folder (a
   * `GlmAsr` loaded from a folder or the hub cache); `false` = not served.
   */
  modelDir?: string | false;
  /** Fastify's trustProxy (take the client IP from X-Forwarded-For). Default false. */
  trustProxy?: boolean | string | string[];
  /** Longest `closeGracefully` waits for queued jobs before aborting them. Default 120 s. */
  shutdownTimeoutMs?: number;
  /** Largest `beams` a request may ask for. Default and upper bound: the transcriber's `maxBeams`. */
  maxBeams?: number;
  /** Largest `max_new_tokens` a request may ask for. Default 4096. */
  maxNewTokensLimit?: number;
  /**
   * Run transcriptions on GPU workers behind this Redis queue (`glm-asr serve --queue`) instead of the
   * transcriber; the server closes it when it closes.
   */
  remoteQueue?: QueueFrontEnd;
  /** `GET /v1/realtime` (live transcription over a WebSocket): its limits (docs/server.md); `false` = no endpoint. */
  realtime?: RealtimeOptions | false;
}

/** One line of the request log. Never holds the API key or audio content. */
export interface RequestLogLine {
  time: string;
  id: string;
  method: string;
  path: string;
  /** HTTP status; 499 when the client went away before the response was sent. */
  status: number;
  ms: number;
  /** Request body size from Content-Length (or the file size for chunked uploads). */
  bytesIn: number | null;
  /** Duration of the uploaded audio, once known. */
  audioSec: number | null;
  ip: string | null;
  /** First 4 hex digits of sha256(presented key); null without a Bearer token. */
  keyId: string | null;
  auth: 'none' | 'ok' | 'missing' | 'invalid';
  /** Milliseconds the job waited in the queue / ran, for transcriptions. */
  queueMs?: number;
  runMs?: number;
  /** The API error code (or error name) when the request failed. */
  error?: string;
  /** The queue job's id (`--queue`), also in the worker's log lines. */
  jobId?: string;
}

export interface RequestInfo {
  start: number;
  /** Set for a request whose answer is not an HTTP response: 101 for a WebSocket session (logged when it ends). */
  status?: number;
  /** Captured up front: the socket may be gone by the time the line is written. */
  ip: string;
  auth: RequestLogLine['auth'];
  keyId: string | null;
  bytesIn: number | null;
  audioSec: number | null;
  queueMs?: number;
  runMs?: number;
  error?: string;
  jobId?: string;
}

export interface ServerContext {
  transcriber: Transcriber;
  /** The model's public name: a repo id or a folder's name, never a file-system path. */
  modelId: string;
  apiKey: string | undefined;
  maxUploadBytes: number;
  maxAudioSeconds: number;
  maxBeams: number;
  maxNewTokensLimit: number;
  rateLimit: RateLimitOptions | false;
  shutdownTimeoutMs: number;
  logSink: LogSink | null;
  logClientIp: 'full' | 'hash' | 'off';
  trustProxy: boolean | string | string[];
  webRoot: string | null;
  bundleDir: string | null;
  /** The checkpoint folder served at /models/<modelSlug>/, or null. */
  modelDir: string | null;
  modelSlug: string | null;
  startedAt: number;
  queue: JobQueue;
  /** Set with `remoteQueue`: transcriptions go to the workers through it. */
  remoteQueue: QueueFrontEnd | null;
  infos: WeakMap<FastifyRequest, RequestInfo>;
  /** Set when a graceful close has begun. */
  shuttingDown: boolean;
}

export function createContext(options: ServerOptions): ServerContext {
  const transcriber = options.transcriber;
  const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const maxAudioSeconds = options.maxAudioSeconds ?? DEFAULT_MAX_AUDIO_SECONDS;
  if (!(maxUploadBytes > 0)) throw new RangeError('maxUploadBytes must be positive');
  if (!(maxAudioSeconds > 0)) throw new RangeError('maxAudioSeconds must be positive');
  if (options.apiKey !== undefined && options.apiKey.length === 0) throw new RangeError('apiKey must not be empty');
  const capacity = transcriber.maxBeams;
  const maxBeams = options.maxBeams ?? capacity;
  if (!Number.isInteger(maxBeams) || maxBeams < 1 || maxBeams > capacity) {
    throw new RangeError(
      `maxBeams must be an integer from 1 to ${capacity} (the transcriber's maxBeams), got ${maxBeams}`,
    );
  }
  const modelDir = modelFolderOf(options.modelDir, transcriber.modelId);
  return {
    transcriber,
    modelId: publicModelId(transcriber.modelId),
    apiKey: options.apiKey,
    maxUploadBytes,
    maxAudioSeconds,
    maxBeams,
    maxNewTokensLimit: options.maxNewTokensLimit ?? DEFAULT_MAX_NEW_TOKENS_LIMIT,
    rateLimit: options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
    logSink:
      options.logger === false
        ? null
        : typeof options.logger === 'function'
          ? options.logger
          : (line) => process.stdout.write(`${line}\n`),
    logClientIp: options.logClientIp ?? 'full',
    trustProxy: options.trustProxy ?? false,
    webRoot: options.webRoot === false ? null : (options.webRoot ?? defaultWebRoot()),
    bundleDir: options.browserBundleDir === false ? null : (options.browserBundleDir ?? defaultBrowserBundleDir()),
    modelDir,
    modelSlug: modelDir ? modelSlugOf(modelDir) : null,
    startedAt: Math.floor(Date.now() / 1000),
    queue: new JobQueue({
      capacity: options.queueSize ?? DEFAULT_QUEUE_SIZE, concurrency: transcriber.maxBatch ?? 1,
    }),
    remoteQueue: options.remoteQueue ?? null,
    infos: new WeakMap(),
    shuttingDown: false,
  };
}

/**
 * The name answers show for a model: a hub repo id as is; for a folder (an absolute or relative
 * path, or a snapshot in the hub cache) the repo id it came from or the folder's name — never the
 * server's file-system layout.
 */
export function publicModelId(modelId: string): string {
  const hub = /(?:^|[/\\])models--([^/\\]+?)--([^/\\]+)[/\\]snapshots[/\\]/.exec(modelId);
  if (hub) return `${hub[1]}/${hub[2]}`;
  const pathLike =
    /^(?:[/\\~.]|[A-Za-z]:[/\\])/.test(modelId) || modelId.includes('\\') || modelId.split('/').length > 2;
  if (!pathLike && !isFolder(modelId)) return modelId;
  return modelId.split(/[/\\]+/).filter(Boolean).pop() ?? 'model';
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Control characters replaced, cut to n characters: safe to echo in a message or a log. */
export function clip(s: string, n: number): string {
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return clean.length > n ? `${clean.slice(0, n)}…` : clean;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${+(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** `web/` next to `src/` (source checkout) or next to `dist/` (package); null when not found. */
function defaultWebRoot(): string | null {
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    for (const rel of ['../../web', '../web', '../../../web']) {
      const dir = resolve(here, rel);
      if (existsSync(join(dir, 'index.html'))) return dir;
    }
  } catch {
    // no import.meta.url (CommonJS bundle): fall through
  }
  const cwdWeb = resolve(process.cwd(), 'web');
  return existsSync(join(cwdWeb, 'index.html')) ? cwdWeb : null;
}

/** Folder with the built `glm-asr.browser.js` (`dist/web/`), or null when it has not been built. */
function defaultBrowserBundleDir(): string | null {
  const candidates: string[] = [];
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    // src/server → ../../dist/web; dist/server/index.js or dist/cli/main.js → ../web; a dist/ chunk → ./web
    candidates.push(resolve(here, '../../dist/web'), resolve(here, '../web'), resolve(here, 'web'));
  } catch {
    // no import.meta.url (CommonJS bundle): fall through
  }
  candidates.push(resolve(process.cwd(), 'dist/web'));
  return candidates.find((dir) => existsSync(join(dir, BROWSER_BUNDLE))) ?? null;
}

/** The model folder offered at /models/<id>/: explicit, or the transcriber's modelId when it is a checkpoint folder. */
function modelFolderOf(option: string | false | undefined, modelId: string): string | null {
  if (option === false) return null;
  const dir = option ?? modelId;
  try {
    if (statSync(dir).isDirectory() && existsSync(join(dir, 'config.json'))) return resolve(dir);
  } catch {
    // not a folder (a fake transcriber, a repo id)
  }
  if (option !== undefined) {
    throw new RangeError(`modelDir ${JSON.stringify(option)} is not a checkpoint folder (no config.json)`);
  }
  return null;
}

/** URL-safe id for the model route: the folder's name, cleaned. */
function modelSlugOf(dir: string): string {
  const s = basename(dir).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+|[.-]+$/g, '');
  return s || 'model';
}
