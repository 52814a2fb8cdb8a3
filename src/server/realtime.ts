/**
 * OpenAI Realtime-compatible live transcription (docs/server.md, "Realtime transcription"):
 *   GET  /v1/realtime?intent=transcription — a WebSocket; one `RealtimeSession` (realtime-session.ts) per socket;
 *   POST /v1/realtime/client_secrets       — a short-lived token for browsers, which cannot set headers.
 *
 * Everything that can refuse a connection (auth, the session limit, shutdown, a transcriber without `live`)
 * happens in a preHandler hook, so a refused client gets an ordinary HTTP error before any upgrade.
 */
import { createHash, randomBytes } from 'node:crypto';
import websocketPlugin from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerToken, keyDigest, keyIdOf, keyMatches, rateLimited, requireKey } from './access';
import type { ServerContext } from './context';
import { ApiError, badRequest, shuttingDownError, unscoped } from './errors';
import {
  applySessionUpdate, defaultSessionConfig, isObject, RealtimeClientError, sessionObject, type SessionConfig,
} from './realtime-config';
import { CLOSE, RealtimeSession, type RealtimeLimits } from './realtime-session';

export type { RealtimeLimits } from './realtime-session';

export interface RealtimeOptions extends Partial<RealtimeLimits> {
  /** Lifetime of a client secret when its request does not ask for one. Default 600 s (requests: 10 … 7200). */
  clientSecretSeconds?: number;
}

export const DEFAULT_REALTIME_LIMITS: RealtimeLimits = {
  maxSessions: 4,
  maxSessionSeconds: 3600,
  idleTimeoutSeconds: 60,
  maxAppendBytes: 1024 * 1024,
  maxBufferedSeconds: 20,
  maxUnsentBytes: 1024 * 1024,
};
export const DEFAULT_CLIENT_SECRET_SECONDS = 600;
/** Client secrets alive at once; past it the POST is answered 503 until some expire. */
const MAX_CLIENT_SECRETS = 10_000;
const SUBPROTOCOL_KEY_PREFIX = 'openai-insecure-api-key.';

function resolveLimits(options: RealtimeOptions): RealtimeLimits & { clientSecretSeconds: number } {
  const out = { ...DEFAULT_REALTIME_LIMITS, clientSecretSeconds: DEFAULT_CLIENT_SECRET_SECONDS };
  for (const [k, v] of Object.entries(options) as [keyof typeof out, unknown][]) {
    if (v === undefined) continue;
    if (!(k in out)) throw new RangeError(`realtime.${k} is not an option`);
    const integer = k === 'maxSessions' || k === 'maxAppendBytes' || k === 'maxUnsentBytes';
    // Timers take at most 2^31 - 1 ms (24.8 days); longer ones would fire at once.
    const max = integer ? Number.MAX_SAFE_INTEGER : 2_000_000;
    if (typeof v !== 'number' || !(v > 0) || !(v <= max) || (integer && !Number.isInteger(v))) {
      const what = integer ? 'a positive integer' : `a positive number of at most ${max}`;
      throw new RangeError(`realtime.${k} must be ${what}, got ${String(v)}`);
    }
    out[k] = v;
  }
  return out;
}

interface ClientSecret {
  expiresAt: number;
  config: SessionConfig;
}

/** Issued client secrets by sha256 of their value (the value itself is never stored). */
class ClientSecrets {
  private readonly byDigest = new Map<string, ClientSecret>();

  issue(config: SessionConfig, seconds: number): { value: string; expiresAt: number } {
    const now = Date.now();
    for (const [d, s] of this.byDigest) if (s.expiresAt <= now) this.byDigest.delete(d);
    if (this.byDigest.size >= MAX_CLIENT_SECRETS) {
      const message = 'Too many client secrets are alive; retry when some have expired.';
      throw new ApiError(503, message, 'server_error', 'too_many_client_secrets', null, { 'retry-after': '60' });
    }
    const value = `ek_${randomBytes(24).toString('base64url')}`;
    const expiresAt = now + seconds * 1000;
    this.byDigest.set(digest(value), { expiresAt, config });
    return { value, expiresAt: Math.floor(expiresAt / 1000) };
  }

  /** The secret's session configuration; 'expired' or null (not a secret) otherwise. */
  check(value: string): SessionConfig | 'expired' | null {
    const d = digest(value);
    const s = this.byDigest.get(d);
    if (!s) return null;
    if (s.expiresAt > Date.now()) return s.config;
    this.byDigest.delete(d);
    return 'expired';
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest('hex');

/** The token a browser passes as the subprotocol `openai-insecure-api-key.<token>`, or null. */
function subprotocolToken(request: FastifyRequest): string | null {
  const header = request.headers['sec-websocket-protocol'];
  if (typeof header !== 'string') return null;
  const p = header.split(',').map((s) => s.trim()).find((s) => s.startsWith(SUBPROTOCOL_KEY_PREFIX));
  return p ? p.slice(SUBPROTOCOL_KEY_PREFIX.length) : null;
}

function unauthorized(message: string, code: string): ApiError {
  return new ApiError(401, message, 'invalid_request_error', code, null, { 'www-authenticate': 'Bearer' });
}

type PluginOptions = { ctx: ServerContext; options: RealtimeOptions | false | undefined };

/** The realtime routes in a scope of their own, plus the whole server's handling of other upgrade requests. */
export const realtimePlugin = unscoped(async (app: FastifyInstance, opts: PluginOptions) => {
  if (opts.options === false) return;
  // An upgrade request to any other route gets its HTTP answer, then its socket is closed: Node hands upgrade
  // sockets over to their 'upgrade' listener (@fastify/websocket), so the HTTP server would never close it.
  app.addHook('onResponse', async (request) => {
    if (request.headers.upgrade !== undefined) request.raw.socket.destroy();
  });
  await app.register(realtimeRoutes, { ctx: opts.ctx, options: opts.options ?? {} });
});

async function realtimeRoutes(
  app: FastifyInstance, { ctx, options }: { ctx: ServerContext; options: RealtimeOptions },
): Promise<void> {
  const limits = resolveLimits(options);
  const sessions = new Set<RealtimeSession>();
  const secrets = new ClientSecrets();
  const apiKey = keyDigest(ctx);
  /** The session configuration a request's client secret carries, set by the preHandler. */
  const configs = new WeakMap<FastifyRequest, SessionConfig>();

  await app.register(websocketPlugin, {
    options: {
      // A frame over this is closed by ws with 1009; smaller oversize appends get the session's clearer error.
      maxPayload: Math.ceil((limits.maxAppendBytes * 4) / 3) + 64 * 1024,
      // Never echo the key-carrying subprotocol; `realtime` is what browsers ask for alongside it.
      handleProtocols: (protocols) => (protocols.has('realtime') ? 'realtime' : false),
    },
    preClose(done) {
      // Server shutdown: the sessions' pending finals (a few seconds at most), then a 1001 close each.
      void Promise.all([...sessions].map((s) => s.shutdown())).then(() => this.websocketServer.close(() => done()));
    },
  });

  /** Auth (API key or client secret, as Bearer or subprotocol), then the checks that can refuse a session. */
  async function admit(request: FastifyRequest): Promise<void> {
    if (!ctx.transcriber.live) {
      const message = 'Realtime transcription needs a local model: this server has none (it runs with --queue).';
      throw new ApiError(501, message, 'invalid_request_error', 'realtime_unavailable');
    }
    const intent = (request.query as Record<string, unknown>).intent;
    if (intent !== undefined && intent !== 'transcription') {
      throw badRequest("'intent' must be 'transcription': this server only transcribes.", 'intent');
    }
    const info = ctx.infos.get(request);
    const token = bearerToken(request) ?? subprotocolToken(request);
    const secret = token === null ? null : secrets.check(token);
    if (secret === 'expired') throw unauthorized('The client secret has expired.', 'expired_client_secret');
    if (secret) configs.set(request, secret);
    const keyOk = token !== null && apiKey !== null && keyMatches(apiKey, token);
    if (apiKey && !secret && !keyOk) {
      throw token === null
        ? unauthorized('Missing API key: send "Authorization: Bearer <key or client secret>", or the subprotocol ' +
          `"${SUBPROTOCOL_KEY_PREFIX}<key or client secret>".`, 'missing_api_key')
        : unauthorized('Incorrect API key or client secret provided.', 'invalid_api_key');
    }
    if (info && token !== null && apiKey) {
      info.auth = 'ok';
      info.keyId = keyIdOf(token);
    }
    if (ctx.shuttingDown) throw shuttingDownError();
    if (sessions.size >= limits.maxSessions) {
      const message = `Too many realtime sessions: at most ${limits.maxSessions} at once. Retry later.`;
      throw new ApiError(503, message, 'server_error', 'too_many_sessions', null, { 'retry-after': '5' });
    }
  }

  app.route({
    method: 'GET',
    url: '/v1/realtime',
    config: rateLimited(ctx),
    preHandler: admit,
    handler: async () => {
      const message = 'GET /v1/realtime is a WebSocket endpoint: connect with an Upgrade: websocket request.';
      throw new ApiError(426, message, 'invalid_request_error', 'upgrade_required', null, { upgrade: 'websocket' });
    },
    wsHandler: (socket, request) => {
      if (sessions.size >= limits.maxSessions) {
        // Two upgrades raced past admit for the last slot.
        socket.close(CLOSE.tryAgainLater, 'too many sessions');
        return;
      }
      const info = ctx.infos.get(request);
      if (info) info.status = 101;
      const session = new RealtimeSession({
        socket,
        openLive: (o) => ctx.transcriber.live!(o),
        config: configs.get(request) ?? defaultSessionConfig(ctx.modelId),
        limits,
        minAudioSeconds: ctx.transcriber.minAudioSeconds,
        log: info ?? { audioSec: null },
        onEnd: (s) => sessions.delete(s),
      });
      sessions.add(session);
    },
  });

  app.post('/v1/realtime/client_secrets', {
    config: rateLimited(ctx),
    preParsing: requireKey(ctx),
  }, async (request) => {
    const body = request.body ?? {};
    if (!isObject(body)) throw badRequest('The body must be a JSON object.', null);
    let seconds = limits.clientSecretSeconds;
    if (body.expires_after !== undefined) {
      const e = body.expires_after;
      if (!isObject(e) || (e.anchor !== undefined && e.anchor !== 'created_at')) {
        throw badRequest("'expires_after' must be { anchor: 'created_at', seconds }.", 'expires_after');
      }
      if (e.seconds !== undefined) {
        if (typeof e.seconds !== 'number' || !Number.isInteger(e.seconds) || e.seconds < 10 || e.seconds > 7200) {
          throw badRequest("'expires_after.seconds' must be an integer from 10 to 7200.", 'expires_after.seconds');
        }
        seconds = e.seconds;
      }
    }
    let config = defaultSessionConfig(ctx.modelId);
    if (body.session !== undefined) {
      try {
        config = applySessionUpdate(config, body.session);
      } catch (err) {
        if (!(err instanceof RealtimeClientError)) throw err;
        throw badRequest(err.message, err.param, err.code);
      }
    }
    const { value, expiresAt } = secrets.issue(config, seconds);
    const id = `sess_${randomBytes(6).toString('hex')}`;
    return { value, expires_at: expiresAt, session: sessionObject(config, { id, expiresAt }) };
  });
}
