/**
 * Who is asking and how often, for every route:
 *   onRequest  — start the clock, read the Bearer key (constant-time check), then the rate limiter
 *                (bucket: the API key when the request carries the valid one, else the client IP);
 *   `requireKey` (preParsing of the /v1 and model-file routes) — 401 on a missing or wrong key
 *                before a single body byte is read;
 *   one JSON log line per request when its response closes (see `RequestLogLine`).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import rateLimitPlugin from '@fastify/rate-limit';
import { pathOf, type RequestInfo, type RequestLogLine, type ServerContext } from './context';
import { ApiError, unscoped } from './errors';

const sha256 = (s: string | Uint8Array) => createHash('sha256').update(s).digest();

/** The configured API key's digest, or null when none is set. */
export function keyDigest(ctx: Pick<ServerContext, 'apiKey'>): Buffer | null {
  return ctx.apiKey !== undefined ? sha256(ctx.apiKey) : null;
}

/** Whether `token` is the key with this digest. Equal-length digests compared in constant time: neither the key
 * nor its length leaks. */
export function keyMatches(digest: Buffer, token: string): boolean {
  return timingSafeEqual(sha256(token), digest);
}

/** First 4 hex digits of sha256(token): tells keys apart in the log, useless for recovering one. */
export function keyIdOf(token: string): string {
  return sha256(token).toString('hex').slice(0, 4);
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer\s+(\S.*)$/i.exec(header.trim()) : null;
  return m ? m[1].trim() : null;
}

/** Route config that puts a route under the rate limit (empty when the limit is off). */
export function rateLimited(ctx: ServerContext): { rateLimit?: { max: number; timeWindow: number } } {
  return ctx.rateLimit ? { rateLimit: { max: ctx.rateLimit.max, timeWindow: ctx.rateLimit.timeWindowMs } } : {};
}

/** preParsing hook: 401 unless the key is right (when one is configured). */
export function requireKey(ctx: ServerContext) {
  return async (request: FastifyRequest): Promise<void> => {
    const info = ctx.infos.get(request);
    if (ctx.apiKey === undefined || info?.auth === 'ok') return;
    const missing = info?.auth === 'missing';
    throw new ApiError(
      401,
      missing ? 'Missing API key: send it as "Authorization: Bearer <key>".' : 'Incorrect API key provided.',
      'invalid_request_error',
      missing ? 'missing_api_key' : 'invalid_api_key',
      null,
      { 'www-authenticate': 'Bearer' },
    );
  };
}

export const accessPlugin = unscoped(async (app, { ctx }: { ctx: ServerContext }) => {
  const expectedKeyDigest = keyDigest(ctx);
  const ipSalt = randomBytes(16);

  app.addHook('onRequest', async (request, reply) => {
    const info: RequestInfo = {
      start: performance.now(),
      ip: request.ip ?? '',
      auth: 'none',
      keyId: null,
      bytesIn: null,
      audioSec: null,
    };
    ctx.infos.set(request, info);
    const len = Number(request.headers['content-length']);
    if (Number.isFinite(len) && len >= 0) info.bytesIn = len;

    const token = bearerToken(request);
    if (token !== null) info.keyId = keyIdOf(token);
    if (expectedKeyDigest) {
      info.auth = token === null ? 'missing' : keyMatches(expectedKeyDigest, token) ? 'ok' : 'invalid';
    }

    reply.header('x-request-id', request.id);
    reply.raw.once('close', () => writeLog(request, reply));
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    if (ctx.shuttingDown) reply.header('connection', 'close');
    return payload;
  });

  function writeLog(request: FastifyRequest, reply: FastifyReply): void {
    const info = ctx.infos.get(request);
    if (!ctx.logSink || !info) return;
    const finished = reply.raw.writableFinished;
    const ipMode = ctx.logClientIp;
    const ip = ipMode === 'off' ? null
      : ipMode === 'hash' ? createHmac('sha256', ipSalt).update(info.ip).digest('hex').slice(0, 12)
      : info.ip || null;
    const line: RequestLogLine = {
      time: new Date().toISOString(),
      id: String(request.id),
      method: request.method,
      path: pathOf(request.url),
      status: info.status ?? (finished ? reply.raw.statusCode : 499),
      ms: Math.round((performance.now() - info.start) * 10) / 10,
      bytesIn: info.bytesIn,
      audioSec: info.audioSec === null ? null : Math.round(info.audioSec * 1000) / 1000,
      ip,
      keyId: info.keyId,
      auth: info.auth,
    };
    if (info.queueMs !== undefined) line.queueMs = Math.round(info.queueMs);
    if (info.runMs !== undefined) line.runMs = Math.round(info.runMs);
    if (info.jobId !== undefined) line.jobId = info.jobId;
    if (info.error !== undefined) line.error = info.error;
    else if (!finished && info.status === undefined) line.error = 'client_closed_request';
    try {
      ctx.logSink(JSON.stringify(line));
    } catch {
      // a failing log sink must not take the server down
    }
  }

  const limit = ctx.rateLimit;
  if (limit) {
    await app.register(rateLimitPlugin, {
      global: false,
      hook: 'onRequest',
      keyGenerator: (request) => {
        const info = ctx.infos.get(request);
        // Only the valid key earns its own bucket; anything else is limited per IP, so rotating
        // made-up keys buys nothing.
        return info?.auth === 'ok' && info.keyId ? `key:${info.keyId}` : `ip:${request.ip}`;
      },
      errorResponseBuilder: (_request, rl) =>
        new ApiError(
          rl.statusCode,
          `Rate limit reached: at most ${rl.max} requests per ${Math.round(limit.timeWindowMs / 1000)} s. ` +
            `Retry in ${rl.after}.`,
          'rate_limit_error',
          'rate_limit_exceeded',
        ),
    });
  }
});
