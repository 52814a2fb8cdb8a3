/**
 * Files the server hands out: the web page (`/`, `/<name>`), the browser bundle
 * (`/glm-asr.browser.js`) and, for the page's in-browser mode, the checkpoint's files
 * (`/models/<id>/<file>`) and the package's VAD weights (`/vad/silero-vad-v5/<file>`), both with the key
 * required when one is set and Range requests supported.
 * Only plain names from fixed lists or patterns are served, so no path can leave its folder.
 */
import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { shippedVadFolder } from '../models/glm-asr/node';
import { requireKey } from './access';
import { BROWSER_BUNDLE, clip, type ServerContext } from './context';
import { ApiError, notFound, sendError } from './errors';

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

/**
 * The files of a checkpoint folder the model route serves (and nothing else): configs, tokenizer,
 * chat template, the single safetensors file or the index and its numbered shards.
 */
export const MODEL_FILE_NAME = new RegExp(
  '^(?:config\\.json|generation_config\\.json|preprocessor_config\\.json|processor_config\\.json' +
    '|tokenizer\\.json|tokenizer_config\\.json|special_tokens_map\\.json|chat_template\\.jinja|chat_template\\.json' +
    '|model\\.safetensors|model\\.safetensors\\.index\\.json|model-\\d{5}-of-\\d{5}\\.safetensors)$',
);

/** The files of the package's VAD folder the VAD route serves. */
export const VAD_ROUTE = '/vad/silero-vad-v5/';
const VAD_FILES = new Set(['config.json', 'model.safetensors', 'LICENSE']);

const MODEL_FILE_TYPES: Record<string, string> = {
  json: 'application/json; charset=utf-8',
  jinja: 'text/plain; charset=utf-8',
  safetensors: 'application/octet-stream',
};

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

/** `Range: bytes=a-b` / `bytes=a-` / `bytes=-n` → inclusive [start, end]; null = the whole file; 'bad' = 416. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'bad' {
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

async function sendStatic(reply: FastifyReply, name: string, root: string | null): Promise<FastifyReply> {
  const m = STATIC_NAME.exec(name);
  const type = m ? STATIC_TYPES[m[1].toLowerCase()] : undefined;
  if (!root || !type) return sendError(reply, notFound(name));
  let body: Buffer;
  try {
    body = await readFile(join(root, name));
  } catch {
    return sendError(reply, notFound(name));
  }
  reply.header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
  if (type.startsWith('text/html')) {
    reply.header('content-security-policy', WEB_CSP).header('referrer-policy', 'no-referrer');
  }
  return reply.type(type).send(body);
}

/**
 * One file of a served folder, whole or one byte range; HEAD sends the headers only.
 * `file` is null when the caller's list does not have it; `label` names the request in the 404.
 */
async function sendFolderFile(
  dir: string,
  request: FastifyRequest,
  reply: FastifyReply,
  label: string,
  file: string | null,
): Promise<FastifyReply> {
  if (!file) return sendError(reply, notFound(label));
  const path = join(dir, file);
  let size: number;
  let mtimeMs: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) return sendError(reply, notFound(label));
    size = st.size;
    mtimeMs = st.mtimeMs;
  } catch {
    return sendError(reply, notFound(label));
  }
  const etag = `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
  const ext = file.slice(file.lastIndexOf('.') + 1);
  reply
    .header('accept-ranges', 'bytes')
    .header('etag', etag)
    .header('last-modified', new Date(mtimeMs).toUTCString())
    .header('cache-control', 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .type(MODEL_FILE_TYPES[ext] ?? (file === 'LICENSE' ? 'text/plain; charset=utf-8' : 'application/octet-stream'));
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  const ifRange = request.headers['if-range'];
  const range = ifRange !== undefined && ifRange !== etag ? null : parseRange(request.headers.range, size);
  if (range === 'bad') {
    reply.header('content-range', `bytes */${size}`);
    const message = `Range not satisfiable: ${file} has ${size} bytes.`;
    return sendError(reply, new ApiError(416, message, 'invalid_request_error', 'range_not_satisfiable'));
  }
  const start = range ? range.start : 0;
  const end = range ? range.end : size - 1;
  const length = size === 0 ? 0 : end - start + 1;
  if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
  reply.header('content-length', String(length));
  if (request.method === 'HEAD' || length === 0) return reply.send();
  return reply.send(createReadStream(path, { start, end }));
}

/** The package's VAD folder, or null when this installation has none (then there is no VAD route). */
function vadFolderOrNull(): string | null {
  try {
    return shippedVadFolder();
  } catch {
    return null;
  }
}

/**
 * The checkpoint's files at /models/<id>/<file> (when a model folder is offered) and the VAD weights at
 * /vad/silero-vad-v5/<file>, which the page's in-browser mode loads for the 'vad' segmenter, as the server uses.
 */
export const modelFilesPlugin: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const { modelDir, modelSlug } = ctx;
  const vadDir = vadFolderOrNull();
  // HEAD is its own route: fastify's automatic one would read the whole file to discard it.
  for (const method of ['GET', 'HEAD'] as const) {
    if (modelDir && modelSlug) {
      app.route<{ Params: { id: string; file: string } }>({
        method,
        url: '/models/:id/:file',
        exposeHeadRoute: false,
        preParsing: requireKey(ctx),
        handler: (request, reply) => {
          const { id, file } = request.params;
          const label = `models/${clip(id, 60)}/${clip(file, 100)}`;
          const known = id === modelSlug && MODEL_FILE_NAME.test(file);
          return sendFolderFile(modelDir, request, reply, label, known ? file : null);
        },
      });
    }
    if (vadDir) {
      app.route<{ Params: { file: string } }>({
        method,
        url: `${VAD_ROUTE}:file`,
        exposeHeadRoute: false,
        preParsing: requireKey(ctx),
        handler: (request, reply) => {
          const { file } = request.params;
          const label = `${VAD_ROUTE.slice(1)}${clip(file, 100)}`;
          return sendFolderFile(vadDir, request, reply, label, VAD_FILES.has(file) ? file : null);
        },
      });
    }
  }
};

/** The web page and the browser bundle. */
export const webPagePlugin: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const { bundleDir, webRoot } = ctx;
  if (bundleDir) {
    for (const name of [BROWSER_BUNDLE, `${BROWSER_BUNDLE}.map`]) {
      app.get(`/${name}`, (_request, reply) => sendStatic(reply, name, bundleDir));
    }
  }
  if (webRoot) {
    app.get('/', (_request, reply) => sendStatic(reply, 'index.html', webRoot));
    app.get<{ Params: { name: string } }>('/:name', (request, reply) =>
      sendStatic(reply, request.params.name, webRoot));
  }
};

/** True when the browser bundle is there to be served (for /health). */
export function browserBundleServed(ctx: ServerContext): boolean {
  return ctx.bundleDir !== null && existsSync(join(ctx.bundleDir, BROWSER_BUNDLE));
}
