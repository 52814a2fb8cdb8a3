/**
 * The HTTP service: an OpenAI-compatible `POST /v1/audio/transcriptions` in front of one
 * `Transcriber`, plus `/health`, `/v1/models` and the static web page.
 *
 * Request path for a transcription:
 *   onRequest  — start the clock, read the Bearer key (constant-time check), then the rate limiter
 *                (bucket: the API key when the request carries the valid one, else the client IP)
 *   preParsing — reject a missing/wrong key with 401 before a single body byte is read
 *   handler    — refuse early when the queue is full or the server is closing (503), read the
 *                multipart form (file ≤ maxUploadBytes → else 413), validate the fields (400),
 *                probe the audio duration (corrupt → 400, too long → 413), queue the job, format
 *                the result. A client that disconnects while its job waits gets the job skipped.
 * One JSON log line is written per request when its response closes (see `RequestLogLine`).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import rateLimitPlugin from '@fastify/rate-limit';
import { ApiError, badRequest } from './errors';
import { formatTranscription, isResponseFormat, RESPONSE_CONTENT_TYPES, RESPONSE_FORMATS, type ResponseFormat } from '../formats';
import { JobQueue, QueueClosedError, QueueFullError, type QueueStats } from './queue';
import { isAudioDecodeError, type Transcriber, type Transcription } from './transcriber';

export { ApiError } from './errors';

/** 25 MiB, OpenAI's upload limit. */
export const DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024;
export const DEFAULT_MAX_AUDIO_SECONDS = 630;
export const DEFAULT_QUEUE_SIZE = 16;
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { max: 120, timeWindowMs: 60_000 };
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_BEAMS = 8;
export const DEFAULT_MAX_NEW_TOKENS_LIMIT = 4096;

/** After the queue has drained on shutdown, how long open sockets get before they are closed. */
const CLOSE_GRACE_MS = 1000;

/** Multipart headers and the small text fields on top of the file. */
const FORM_OVERHEAD_BYTES = 1024 * 1024;

/**
 * Content-Security-Policy of the web page. `connect-src https:` leaves room for the in-browser mode
 * to fetch model weights from a model hub; WASM compilation is allowed for tokenizers.
 */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self' https:",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

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
  /** Most transcriptions waiting behind the running one. Default 16. */
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
  /** Largest `beams` a request may ask for. Default 8. */
  maxBeams?: number;
  /** Largest `max_new_tokens` a request may ask for. Default 4096. */
  maxNewTokensLimit?: number;
}

export interface CloseOptions {
  /** Overrides `shutdownTimeoutMs`. */
  timeoutMs?: number;
}

export type AsrServer = FastifyInstance & {
  /**
   * Stop accepting work, let the running and queued jobs finish (up to the timeout; then the
   * waiting ones are skipped with 503 and the running one is aborted), then close the server.
   * Safe to call more than once.
   */
  closeGracefully(options?: CloseOptions): Promise<void>;
  /** The job queue (its `stats` are what `/health` reports). */
  readonly jobQueue: JobQueue;
};

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
}

interface RequestInfo {
  start: number;
  /** Captured up front: the socket may be gone by the time the line is written. */
  ip: string;
  auth: RequestLogLine['auth'];
  keyId: string | null;
  bytesIn: number | null;
  audioSec: number | null;
  queueMs?: number;
  runMs?: number;
  error?: string;
}

const sha256 = (s: string | Uint8Array) => createHash('sha256').update(s).digest();

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

/** The file name of the browser bundle, served at `/glm-asr.browser.js`. */
export const BROWSER_BUNDLE = 'glm-asr.browser.js';

/**
 * The files of a checkpoint folder the model route serves (and nothing else): configs, tokenizer,
 * chat template, the single safetensors file or the index and its numbered shards.
 */
export const MODEL_FILE_NAME =
  /^(?:config\.json|generation_config\.json|preprocessor_config\.json|processor_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|chat_template\.jinja|chat_template\.json|model\.safetensors|model\.safetensors\.index\.json|model-\d{5}-of-\d{5}\.safetensors)$/;

const MODEL_FILE_TYPES: Record<string, string> = {
  json: 'application/json; charset=utf-8',
  jinja: 'text/plain; charset=utf-8',
  safetensors: 'application/octet-stream',
};

/** The model folder to offer at /models/<id>/: explicit, or the transcriber's modelId when it is a checkpoint folder. */
function modelFolderOf(option: string | false | undefined, modelId: string): string | null {
  if (option === false) return null;
  const dir = option ?? modelId;
  try {
    if (statSync(dir).isDirectory() && existsSync(join(dir, 'config.json'))) return resolve(dir);
  } catch {
    // not a folder (a fake transcriber, a repo id)
  }
  if (option !== undefined) throw new RangeError(`modelDir ${JSON.stringify(option)} is not a checkpoint folder (no config.json)`);
  return null;
}

/** URL-safe id for the model route: the folder's name, cleaned. */
function modelSlug(dir: string): string {
  const s = basename(dir).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+|[.-]+$/g, '');
  return s || 'model';
}

/** `Range: bytes=a-b` / `bytes=a-` / `bytes=-n` → inclusive [start, end]; null = serve the whole file; 'bad' = 416. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'bad' {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return null; // multiple ranges or another unit: ignore the header, as RFC 9110 allows
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  let start: number;
  let end: number;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'bad';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) return null; // invalid range spec: ignored
  }
  if (!Number.isSafeInteger(start) || start >= size || end < start) return 'bad';
  return { start, end };
}

const STATIC_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  json: 'application/json; charset=utf-8',
  webmanifest: 'application/manifest+json',
  wasm: 'application/wasm',
};
/** Plain file names only: no folders, no dot files, so no path can leave the web root. */
const STATIC_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.([A-Za-z0-9]+)$/;

/** Parses an integer form field within [min, max]; undefined when absent. */
function intField(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (!/^[+]?\d+$/.test(v)) throw badRequest(`'${name}' must be an integer, got '${clip(v, 40)}'.`, name);
  const n = Number(v);
  if (n < min || n > max) throw badRequest(`'${name}' must be between ${min} and ${max}, got ${n}.`, name);
  return n;
}

function clip(s: string, n: number): string {
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return clean.length > n ? `${clean.slice(0, n)}…` : clean;
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${+(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

interface UploadedForm {
  file: { bytes: Uint8Array; filename: string } | null;
  fields: Map<string, string[]>;
}

/** Raised through the queue when the client disconnects. */
class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  constructor() {
    super('client disconnected');
  }
}

class ShutdownTimeoutError extends Error {
  override readonly name = 'ShutdownTimeoutError';
  constructor() {
    super('server shutdown timed out');
  }
}

export function buildServer(options: ServerOptions): AsrServer {
  const transcriber = options.transcriber;
  const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const maxAudioSeconds = options.maxAudioSeconds ?? DEFAULT_MAX_AUDIO_SECONDS;
  const queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
  const rateLimit = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const maxBeams = options.maxBeams ?? DEFAULT_MAX_BEAMS;
  const maxNewTokensLimit = options.maxNewTokensLimit ?? DEFAULT_MAX_NEW_TOKENS_LIMIT;
  const webRoot = options.webRoot === false ? null : (options.webRoot ?? defaultWebRoot());
  const bundleDir = options.browserBundleDir === false ? null : (options.browserBundleDir ?? defaultBrowserBundleDir());
  const modelDir = modelFolderOf(options.modelDir, transcriber.modelId);
  const modelId = modelDir ? modelSlug(modelDir) : null;
  if (!(maxUploadBytes > 0)) throw new RangeError('maxUploadBytes must be positive');
  if (!(maxAudioSeconds > 0)) throw new RangeError('maxAudioSeconds must be positive');
  if (options.apiKey !== undefined && options.apiKey.length === 0) throw new RangeError('apiKey must not be empty');

  const sink: LogSink | null =
    options.logger === false
      ? null
      : typeof options.logger === 'function'
        ? options.logger
        : (line) => process.stdout.write(`${line}\n`);
  const ipMode = options.logClientIp ?? 'full';
  const ipSalt = randomBytes(16);
  const expectedKeyDigest = options.apiKey !== undefined ? sha256(options.apiKey) : null;
  const startedAt = Math.floor(Date.now() / 1000);

  const queue = new JobQueue({ capacity: queueSize });
  const infos = new WeakMap<FastifyRequest, RequestInfo>();
  let shuttingDown = false;

  const app = Fastify({
    logger: false,
    trustProxy: options.trustProxy ?? false,
    bodyLimit: 1024 * 1024, // non-multipart bodies (nothing here takes one)
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  // ---------------------------------------------------------------- errors

  app.setErrorHandler((err: unknown, request, reply) => {
    const apiErr = toApiError(err);
    const info = infos.get(request);
    if (info) info.error = apiErr.code ?? (err instanceof Error ? err.name : 'error');
    if (apiErr.statusCode >= 500 && info && err instanceof Error && !(err instanceof ApiError)) {
      info.error = `${err.name}: ${clip(err.message, 300)}`;
    }
    for (const [k, v] of Object.entries(apiErr.headers)) reply.header(k, v);
    return reply.code(apiErr.statusCode).type('application/json; charset=utf-8').send(apiErr.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const err = new ApiError(404, `Unknown request URL: ${request.method} ${clip(pathOf(request.url), 200)}.`, 'invalid_request_error', 'unknown_url');
    return reply.code(404).type('application/json; charset=utf-8').send(err.toBody());
  });

  function toApiError(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    if (isAudioDecodeError(err)) {
      return new ApiError(400, clip(err.message, 500), 'invalid_request_error', 'invalid_audio', 'file');
    }
    if (err instanceof QueueFullError) return queueFullError(err.retryAfterSec);
    if (err instanceof QueueClosedError || err instanceof ShutdownTimeoutError) return shuttingDownError();
    if (err instanceof ClientGoneError) {
      // Nobody reads this answer; the status (nginx's 499) only shows up in the log.
      return new ApiError(499, 'Client closed the request.', 'invalid_request_error', 'client_closed_request');
    }
    const e = err as { code?: unknown; statusCode?: unknown; message?: unknown };
    switch (e.code) {
      case 'FST_REQ_FILE_TOO_LARGE':
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return fileTooLargeError();
      case 'FST_FILES_LIMIT':
        return badRequest('Only one file may be uploaded, in the \'file\' field.', 'file', 'too_many_files');
      case 'FST_PARTS_LIMIT':
      case 'FST_FIELDS_LIMIT':
        return badRequest('Too many form fields.', null, 'too_many_fields');
      case 'FST_PROTO_VIOLATION':
        return badRequest('Invalid form field name.', null, 'invalid_field');
      case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return notMultipartError();
      case 'FST_MP_PREMATURE_CLOSE':
        return badRequest('The request ended before the form was complete.', null, 'incomplete_body');
    }
    const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
    if (status >= 400 && status < 500) {
      const message = typeof e.message === 'string' && e.message ? clip(e.message, 300) : 'Bad request.';
      return new ApiError(status, message, status === 401 ? 'authentication_error' : 'invalid_request_error', typeof e.code === 'string' ? e.code.toLowerCase() : null);
    }
    // No details (let alone stacks) for the client; the log line carries the error.
    return new ApiError(500, 'The server had an error while processing your request.', 'server_error', 'internal_error');
  }

  function fileTooLargeError(): ApiError {
    return new ApiError(
      413,
      `The uploaded file is too large: the limit is ${formatBytes(maxUploadBytes)} (${maxUploadBytes} bytes).`,
      'invalid_request_error',
      'file_too_large',
      'file',
    );
  }

  function notMultipartError(): ApiError {
    return new ApiError(415, "The request must be multipart/form-data with the audio in a 'file' field.", 'invalid_request_error', 'unsupported_media_type');
  }

  function queueFullError(retryAfterSec: number): ApiError {
    return new ApiError(503, 'The server is busy: the transcription queue is full. Please retry later.', 'server_error', 'queue_full', null, {
      'retry-after': String(retryAfterSec),
    });
  }

  function shuttingDownError(): ApiError {
    return new ApiError(503, 'The server is shutting down.', 'server_error', 'shutting_down', null, { 'retry-after': '30' });
  }

  // ---------------------------------------------------------------- logging + auth (all routes)

  app.addHook('onRequest', async (request, reply) => {
    const info: RequestInfo = { start: performance.now(), ip: request.ip ?? '', auth: 'none', keyId: null, bytesIn: null, audioSec: null };
    infos.set(request, info);
    const len = Number(request.headers['content-length']);
    if (Number.isFinite(len) && len >= 0) info.bytesIn = len;

    const header = request.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S.*)$/i.exec(header.trim()) : null;
    const token = m ? m[1].trim() : null;
    if (token !== null) info.keyId = sha256(token).toString('hex').slice(0, 4);
    if (expectedKeyDigest) {
      // Equal-length digests, compared in constant time: neither the key nor its length leaks.
      info.auth = token === null ? 'missing' : timingSafeEqual(sha256(token), expectedKeyDigest) ? 'ok' : 'invalid';
    }

    reply.header('x-request-id', request.id);
    reply.raw.once('close', () => writeLog(request, reply));
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    if (shuttingDown) reply.header('connection', 'close');
    return payload;
  });

  function writeLog(request: FastifyRequest, reply: FastifyReply): void {
    const info = infos.get(request);
    if (!sink || !info) return;
    const finished = reply.raw.writableFinished;
    const line: RequestLogLine = {
      time: new Date().toISOString(),
      id: String(request.id),
      method: request.method,
      path: pathOf(request.url),
      status: finished ? reply.raw.statusCode : 499,
      ms: Math.round((performance.now() - info.start) * 10) / 10,
      bytesIn: info.bytesIn,
      audioSec: info.audioSec === null ? null : Math.round(info.audioSec * 1000) / 1000,
      ip: ipMode === 'off' ? null : ipMode === 'hash' ? createHmac('sha256', ipSalt).update(info.ip).digest('hex').slice(0, 12) : info.ip || null,
      keyId: info.keyId,
      auth: info.auth,
    };
    if (info.queueMs !== undefined) line.queueMs = Math.round(info.queueMs);
    if (info.runMs !== undefined) line.runMs = Math.round(info.runMs);
    if (info.error !== undefined) line.error = info.error;
    else if (!finished) line.error = 'client_closed_request';
    try {
      sink(JSON.stringify(line));
    } catch {
      // a failing log sink must not take the server down
    }
  }

  /** preParsing hook of the /v1 routes: 401 unless the key is right (when one is configured). */
  async function requireKey(request: FastifyRequest): Promise<void> {
    const info = infos.get(request);
    if (!expectedKeyDigest || info?.auth === 'ok') return;
    const missing = info?.auth === 'missing';
    throw new ApiError(
      401,
      missing
        ? 'Missing API key: send it as "Authorization: Bearer <key>".'
        : 'Incorrect API key provided.',
      'invalid_request_error',
      missing ? 'missing_api_key' : 'invalid_api_key',
      null,
      { 'www-authenticate': 'Bearer' },
    );
  }

  // ---------------------------------------------------------------- plugins

  app.register(multipart, {
    limits: {
      fileSize: maxUploadBytes,
      files: 1,
      fields: 32,
      fieldSize: 64 * 1024,
      parts: 48,
      headerPairs: 200,
    },
  });

  if (rateLimit) {
    app.register(rateLimitPlugin, {
      global: false,
      hook: 'onRequest',
      keyGenerator: (request) => {
        const info = infos.get(request);
        // Only the valid key earns its own bucket; anything else is limited per IP, so rotating
        // made-up keys buys nothing.
        return info?.auth === 'ok' && info.keyId ? `key:${info.keyId}` : `ip:${request.ip}`;
      },
      errorResponseBuilder: (_request, ctx) =>
        new ApiError(ctx.statusCode, `Rate limit reached: at most ${ctx.max} requests per ${Math.round(rateLimit.timeWindowMs / 1000)} s. Retry in ${ctx.after}.`, 'rate_limit_error', 'rate_limit_exceeded'),
    });
  }
  const v1Config = rateLimit ? { rateLimit: { max: rateLimit.max, timeWindow: rateLimit.timeWindowMs } } : {};

  // ---------------------------------------------------------------- routes

  app.register(async (scope) => {
    scope.get('/health', async () => ({
      status: 'ok',
      model: transcriber.modelId,
      queue: queue.stats satisfies QueueStats,
      limits: { maxUploadBytes, maxAudioSeconds, authRequired: expectedKeyDigest !== null },
      // For the page's in-browser mode (relative URLs; null when not offered).
      browser: {
        engine: bundleDir && existsSync(join(bundleDir, BROWSER_BUNDLE)) ? BROWSER_BUNDLE : null,
        modelUrl: modelId ? `models/${modelId}/` : null,
      },
    }));

    if (modelDir && modelId) {
      // HEAD is its own route: fastify's automatic one would read the whole file to discard it.
      for (const method of ['GET', 'HEAD'] as const) {
        scope.route<{ Params: { id: string; file: string } }>({
          method,
          url: '/models/:id/:file',
          exposeHeadRoute: false,
          preParsing: requireKey,
          handler: (request, reply) => sendModelFile(request, reply, request.params.id === modelId ? request.params.file : null),
        });
      }
    }

    scope.get('/v1/models', { config: v1Config, preParsing: requireKey }, async () => ({
      object: 'list',
      data: [modelObject()],
    }));

    scope.get<{ Params: { model: string } }>('/v1/models/:model', { config: v1Config, preParsing: requireKey }, async (request) => {
      if (request.params.model !== transcriber.modelId) {
        throw new ApiError(404, `The model '${clip(request.params.model, 100)}' does not exist.`, 'invalid_request_error', 'model_not_found', 'model');
      }
      return modelObject();
    });

    scope.post('/v1/audio/transcriptions', { config: v1Config, preParsing: requireKey }, handleTranscription);

    if (bundleDir) {
      for (const name of [BROWSER_BUNDLE, `${BROWSER_BUNDLE}.map`]) {
        scope.get(`/${name}`, (_request, reply) => sendStatic(reply, name, bundleDir));
      }
    }
    if (webRoot) {
      scope.get('/', (_request, reply) => sendStatic(reply, 'index.html'));
      scope.get<{ Params: { name: string } }>('/:name', (request, reply) => sendStatic(reply, request.params.name));
    }
  });

  function modelObject() {
    return { id: transcriber.modelId, object: 'model', created: startedAt, owned_by: 'glm-asr-webgpu' };
  }

  async function sendStatic(reply: FastifyReply, name: string, root: string | null = webRoot): Promise<FastifyReply> {
    const m = STATIC_NAME.exec(name);
    const type = m ? STATIC_TYPES[m[1].toLowerCase()] : undefined;
    if (!root || !type) return notFound(reply, name);
    let body: Buffer;
    try {
      body = await readFile(join(root, name));
    } catch {
      return notFound(reply, name);
    }
    reply.header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
    if (type.startsWith('text/html')) reply.header('content-security-policy', WEB_CSP).header('referrer-policy', 'no-referrer');
    return reply.type(type).send(body);
  }

  /** One file of the served checkpoint folder, whole or one byte range; HEAD sends the headers only. */
  async function sendModelFile(request: FastifyRequest, reply: FastifyReply, file: string | null): Promise<FastifyReply> {
    const label = `models/${clip(String(request.params && (request.params as { id?: string }).id), 60)}/${clip(file ?? '', 100)}`;
    if (!modelDir || !file || !MODEL_FILE_NAME.test(file)) return notFound(reply, label);
    const path = join(modelDir, file);
    let size: number;
    let mtimeMs: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) return notFound(reply, label);
      size = st.size;
      mtimeMs = st.mtimeMs;
    } catch {
      return notFound(reply, label);
    }
    const etag = `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
    const ext = file.slice(file.lastIndexOf('.') + 1);
    reply
      .header('accept-ranges', 'bytes')
      .header('etag', etag)
      .header('last-modified', new Date(mtimeMs).toUTCString())
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .type(MODEL_FILE_TYPES[ext] ?? 'application/octet-stream');
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    const ifRange = request.headers['if-range'];
    const range = ifRange !== undefined && ifRange !== etag ? null : parseRange(request.headers.range, size);
    if (range === 'bad') {
      return reply.code(416).header('content-range', `bytes */${size}`).type('application/json; charset=utf-8')
        .send(new ApiError(416, `Range not satisfiable: ${file} has ${size} bytes.`, 'invalid_request_error', 'range_not_satisfiable').toBody());
    }
    const start = range ? range.start : 0;
    const end = range ? range.end : size - 1;
    const length = size === 0 ? 0 : end - start + 1;
    if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
    reply.header('content-length', String(length));
    if (request.method === 'HEAD' || length === 0) return reply.send();
    return reply.send(createReadStream(path, { start, end }));
  }

  function notFound(reply: FastifyReply, name: string): FastifyReply {
    const err = new ApiError(404, `Not found: /${clip(name, 100)}`, 'invalid_request_error', 'not_found');
    return reply.code(404).type('application/json; charset=utf-8').send(err.toBody());
  }

  async function handleTranscription(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const info = infos.get(request)!;
    if (shuttingDown || queue.isClosed) throw shuttingDownError();
    // Refuse before reading a possibly large upload; the queue checks again when the job is pushed.
    if (queue.isFull) throw queueFullError(queue.retryAfterSeconds());
    if (!request.isMultipart()) throw notMultipartError();
    if (info.bytesIn !== null && info.bytesIn > maxUploadBytes + FORM_OVERHEAD_BYTES) throw fileTooLargeError();

    // Aborted when the client goes away before we answer: skips the job if it still waits.
    const gone = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort(new ClientGoneError());
    });

    const form = await readForm(request);
    const one = (name: string) => form.fields.get(name)?.[0];

    const formatField = one('response_format')?.trim() || 'json';
    if (!isResponseFormat(formatField)) {
      throw badRequest(`'response_format' must be one of ${RESPONSE_FORMATS.join(', ')}; got '${clip(formatField, 40)}'.`, 'response_format');
    }
    const format: ResponseFormat = formatField;
    if (/^(true|1)$/i.test(one('stream')?.trim() ?? '')) {
      throw badRequest("'stream' is not supported by this server; omit it or send false.", 'stream', 'unsupported_value');
    }
    const temperature = one('temperature');
    if (temperature !== undefined && temperature.trim() !== '' && !Number.isFinite(Number(temperature))) {
      throw badRequest(`'temperature' must be a number, got '${clip(temperature, 40)}'.`, 'temperature');
    }
    const beams = intField(one('beams'), 'beams', 1, maxBeams);
    const maxNewTokens = intField(one('max_new_tokens'), 'max_new_tokens', 1, maxNewTokensLimit);
    const language = one('language')?.trim() || undefined;
    if (language !== undefined && !/^[A-Za-z-]{2,20}$/.test(language)) {
      throw badRequest(`'language' must be a language code such as 'en', got '${clip(language, 40)}'.`, 'language');
    }

    if (!form.file) throw badRequest("Missing the audio: send it in a multipart 'file' field.", 'file', 'missing_file');
    const { bytes } = form.file;
    const name = clip(form.file.filename || 'upload', 200);
    if (info.bytesIn === null) info.bytesIn = bytes.byteLength;
    if (bytes.byteLength === 0) throw badRequest(`${name}: the file is empty.`, 'file', 'invalid_audio');

    const audioSec = await transcriber.probeDuration(bytes, name);
    if (!Number.isFinite(audioSec) || audioSec < 0) {
      throw badRequest(`${name}: could not determine the duration of the audio.`, 'file', 'invalid_audio');
    }
    info.audioSec = audioSec;
    if (audioSec > maxAudioSeconds) {
      throw new ApiError(
        413,
        `${name}: the audio is ${audioSec.toFixed(1)} s long; the limit is ${maxAudioSeconds} s.`,
        'invalid_request_error',
        'audio_too_long',
        'file',
      );
    }

    const queuedAt = performance.now();
    let ranAt = queuedAt;
    const result: Transcription = await queue.push(
      (signal) => {
        ranAt = performance.now();
        info.queueMs = ranAt - queuedAt;
        return transcriber.transcribe(bytes, { name, signal, beams, maxNewTokens });
      },
      { signal: gone.signal },
    ).finally(() => {
      if (info.queueMs !== undefined) info.runMs = performance.now() - ranAt;
    });

    const body = formatTranscription(result, format, { language });
    return reply.type(RESPONSE_CONTENT_TYPES[format]).send(body);
  }

  /** Reads the whole form. Field errors are kept until the body is fully read, then thrown. */
  async function readForm(request: FastifyRequest): Promise<UploadedForm> {
    const form: UploadedForm = { file: null, fields: new Map() };
    let deferred: ApiError | null = null;
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') {
          await part.toBuffer(); // drain it (still bounded by the size limit)
          deferred ??= badRequest(`Unexpected file field '${clip(part.fieldname, 40)}': the audio goes in 'file'.`, part.fieldname, 'unexpected_file');
          continue;
        }
        const buf = await part.toBuffer();
        form.file = { bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), filename: part.filename };
      } else {
        if (part.valueTruncated) {
          deferred ??= badRequest(`Field '${clip(part.fieldname, 40)}' is too long.`, part.fieldname);
          continue;
        }
        const value = typeof part.value === 'string' ? part.value : JSON.stringify(part.value);
        const list = form.fields.get(part.fieldname);
        if (list) list.push(value);
        else form.fields.set(part.fieldname, [value]);
      }
    }
    if (deferred) throw deferred;
    return form;
  }

  // ---------------------------------------------------------------- shutdown

  let closing: Promise<void> | null = null;
  const closeGracefully = (closeOptions: CloseOptions = {}): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      queue.close();
      const timeoutMs = closeOptions.timeoutMs ?? shutdownTimeoutMs;
      // app.close() stops listening at once, answers requests that arrive on open connections
      // with 503, and resolves when the in-flight requests (our queued jobs) have been answered.
      const closed = app.close();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((res) => {
        timer = setTimeout(() => res('timeout'), timeoutMs);
      });
      const first = await Promise.race([queue.drain().then(() => 'drained' as const), timedOut]);
      clearTimeout(timer);
      if (first === 'timeout') {
        queue.abortWaiting(new ShutdownTimeoutError());
        queue.abortRunning(new ShutdownTimeoutError());
        // Give the aborted requests a moment to answer, then drop whatever is still open.
        const t = setTimeout(() => app.server.closeAllConnections(), 2000);
        await closed;
        clearTimeout(t);
      } else {
        // Jobs are done and their responses are on the way. Close keep-alive sockets as they go
        // idle; a socket that was opened but never carried a request does not count as idle for
        // Node, so after a short grace whatever is left is closed.
        app.server.closeIdleConnections();
        const t = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
        await closed;
        clearTimeout(t);
      }
    })();
    return closing;
  };

  app.decorate('closeGracefully', closeGracefully);
  app.decorate('jobQueue', { getter: () => queue });
  return app as unknown as AsrServer;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

// -------------------------------------------------------------------- startServer

export interface StartServerOptions extends ServerOptions {
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 7860; 0 picks a free port. */
  port?: number;
  /** Install SIGINT/SIGTERM handlers that shut down gracefully (a second signal forces exit). Default true. */
  handleSignals?: boolean;
  /** Where lifecycle messages go (listening, shutting down). Default stderr; `false` = silent. */
  onMessage?: ((message: string) => void) | false;
}

export interface StartedServer {
  app: AsrServer;
  /** e.g. http://127.0.0.1:7860 */
  url: string;
  /** Graceful close (the same as a signal); removes the signal handlers. */
  close(options?: CloseOptions): Promise<void>;
}

/** Build, listen, and (by default) wire SIGINT/SIGTERM to a graceful shutdown. For `glm-asr serve`. */
export async function startServer(options: StartServerOptions): Promise<StartedServer> {
  const { host = '127.0.0.1', port = 7860, handleSignals = true, onMessage, ...serverOptions } = options;
  const say = onMessage === false ? () => {} : (onMessage ?? ((m: string) => process.stderr.write(`${m}\n`)));
  const app = buildServer(serverOptions);
  await app.listen({ host, port });
  const addr = app.server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `http://${urlHost}:${actualPort}`;

  let signalled = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signalled++;
    if (signalled > 1) {
      say(`${signal} again: exiting without waiting for the queue.`);
      app.server.closeAllConnections();
      process.exit(130);
    }
    const { running, waiting } = app.jobQueue.stats;
    say(`${signal}: shutting down after ${running + waiting} job(s) in progress (send ${signal} again to force).`);
    void close().then(
      () => say('server closed.'),
      (err: unknown) => say(`error while closing: ${err instanceof Error ? err.message : String(err)}`),
    );
  };
  const removeHandlers = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  const close = async (closeOptions?: CloseOptions) => {
    try {
      await app.closeGracefully(closeOptions);
    } finally {
      removeHandlers();
    }
  };
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  say(`glm-asr server listening on ${url} (model ${serverOptions.transcriber.modelId})`);
  return { app, url, close };
}
