/**
 * OpenAI-style API errors: every failure is answered with
 * `{ "error": { "message", "type", "param", "code" } }` and a matching HTTP status.
 *
 * `errorsPlugin` installs the error and not-found handlers for the whole server. A client's mistake
 * is always a 4xx saying what is wrong; 500 is left for the server's own faults, and then the
 * client gets no details (the log line has them).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { clip, formatBytes, pathOf, type ServerContext } from './context';
import { QueueClosedError, QueueFullError } from './queue';
import { isAudioDecodeError } from './transcriber';

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'rate_limit_error'
  | 'server_error';

export interface ApiErrorBody {
  error: { message: string; type: ApiErrorType; param: string | null; code: string | null };
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    message: string,
    readonly type: ApiErrorType,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Extra response headers (e.g. Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toBody(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = 'invalid_value') =>
  new ApiError(400, message, 'invalid_request_error', code, param);

/** Raised through the queue when the client disconnects. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  constructor() {
    super('client disconnected');
  }
}

export class ShutdownTimeoutError extends Error {
  override readonly name = 'ShutdownTimeoutError';
  constructor() {
    super('server shutdown timed out');
  }
}

export function fileTooLargeError(maxUploadBytes: number): ApiError {
  return new ApiError(
    413,
    `The uploaded file is too large: the limit is ${formatBytes(maxUploadBytes)} (${maxUploadBytes} bytes).`,
    'invalid_request_error',
    'file_too_large',
    'file',
  );
}

export function notMultipartError(): ApiError {
  const message = "The request must be multipart/form-data with the audio in a 'file' field.";
  return new ApiError(415, message, 'invalid_request_error', 'unsupported_media_type');
}

export function queueFullError(retryAfterSec: number): ApiError {
  const message = 'The server is busy: the transcription queue is full. Please retry later.';
  return new ApiError(503, message, 'server_error', 'queue_full', null, { 'retry-after': String(retryAfterSec) });
}

export function shuttingDownError(): ApiError {
  const headers = { 'retry-after': '30' };
  return new ApiError(503, 'The server is shutting down.', 'server_error', 'shutting_down', null, headers);
}

export function notFound(name: string): ApiError {
  return new ApiError(404, `Not found: /${clip(name, 100)}`, 'invalid_request_error', 'not_found');
}

/** Any error a handler throws → the ApiError the client gets. */
export function toApiError(err: unknown, ctx: Pick<ServerContext, 'maxUploadBytes'>): ApiError {
  if (err instanceof ApiError) return err;
  if (isAudioDecodeError(err)) {
    if ((err as { code?: unknown }).code === 'audio_too_long') {
      return new ApiError(413, clip(err.message, 500), 'invalid_request_error', 'audio_too_long', 'file');
    }
    return new ApiError(400, clip(err.message, 500), 'invalid_request_error', 'invalid_audio', 'file');
  }
  if (err instanceof Error && err.name === 'OptionError') {
    // A request option the loaded model refuses (e.g. max_chunk_seconds past its window): the client's mistake.
    // Matched by name: the ESM and CJS builds each have their own OptionError class.
    const option = (err as Error & { option?: unknown }).option;
    const param = typeof option === 'string' ? option.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : null;
    return new ApiError(400, clip(err.message, 300), 'invalid_request_error', 'invalid_option', param);
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
      return fileTooLargeError(ctx.maxUploadBytes);
    case 'FST_FILES_LIMIT':
      return badRequest("Only one file may be uploaded, in the 'file' field.", 'file', 'too_many_files');
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
    const type = status === 401 ? 'authentication_error' : 'invalid_request_error';
    return new ApiError(status, message, type, typeof e.code === 'string' ? e.code.toLowerCase() : null);
  }
  // No details (let alone stacks) for the client; the log line carries the error.
  return new ApiError(500, 'The server had an error while processing your request.', 'server_error', 'internal_error');
}

export function sendError(reply: FastifyReply, err: ApiError): FastifyReply {
  return reply.code(err.statusCode).type('application/json; charset=utf-8').send(err.toBody());
}

/** Error and not-found handlers for the whole server (registered unencapsulated, see `unscoped`). */
export const errorsPlugin: FastifyPluginAsync<{ ctx: ServerContext }> = unscoped(async (app, { ctx }) => {
  app.setErrorHandler((err: unknown, request, reply) => {
    const apiErr = toApiError(err, ctx);
    const info = ctx.infos.get(request);
    if (info) info.error = apiErr.code ?? (err instanceof Error ? err.name : 'error');
    if (apiErr.statusCode >= 500 && info && err instanceof Error && !(err instanceof ApiError)) {
      info.error = `${err.name}: ${clip(err.message, 300)}`;
    }
    for (const [k, v] of Object.entries(apiErr.headers)) reply.header(k, v);
    return sendError(reply, apiErr);
  });

  app.setNotFoundHandler((request, reply) => {
    const message = `Unknown request URL: ${request.method} ${clip(pathOf(request.url), 200)}.`;
    return sendError(reply, new ApiError(404, message, 'invalid_request_error', 'unknown_url'));
  });
});

/**
 * Marks a plugin as applying to the instance it is registered on rather than to a scope of its own
 * (Fastify's documented 'skip-override' property; what the fastify-plugin package sets).
 */
export function unscoped<T extends (app: FastifyInstance, opts: never) => Promise<void>>(plugin: T): T {
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
}
