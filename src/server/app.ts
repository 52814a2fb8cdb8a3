/**
 * The HTTP service: an OpenAI-compatible `POST /v1/audio/transcriptions` in front of one
 * `Transcriber`, plus `/health`, `/v1/models`, the model's files and the static web page.
 *
 * `buildServer` wires Fastify plugins, one per concern:
 *   errors        (errors.ts)        — OpenAI-shaped error answers, 4xx for every client mistake;
 *   access        (access.ts)        — API key, rate limit, one JSON log line per request;
 *   info          (info.ts)          — /health, /v1/models;
 *   model files   (files.ts)         — /models/<id>/<file> for the page's in-browser mode;
 *   transcription (transcription.ts) — the upload, its checks, the queue, the answer;
 *   realtime      (realtime.ts)      — live transcription over a WebSocket (OpenAI Realtime), client secrets;
 *   web page      (files.ts)         — /, /<name>, the browser bundle.
 * The plugins share one `ServerContext` (context.ts): resolved options, the job queue, request info.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { accessPlugin } from './access';
import { createContext, publicModelId, type ServerContext, type ServerOptions } from './context';
import { errorsPlugin, ShutdownTimeoutError } from './errors';
import { modelFilesPlugin, webPagePlugin } from './files';
import { infoPlugin } from './info';
import { jobsPlugin } from './jobs';
import type { JobQueue } from './queue';
import { realtimePlugin } from './realtime';
import { transcriptionPlugin } from './transcription';

export {
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_MAX_AUDIO_SECONDS,
  DEFAULT_QUEUE_SIZE,
  DEFAULT_RATE_LIMIT,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_MAX_NEW_TOKENS_LIMIT,
  BROWSER_BUNDLE,
  publicModelId,
  type ServerOptions,
  type RateLimitOptions,
  type LogSink,
  type RequestLogLine,
} from './context';
export { ApiError } from './errors';
export { WEB_CSP, MODEL_FILE_NAME } from './files';

/** After the queue has drained on shutdown, how long open sockets get before they are closed. */
const CLOSE_GRACE_MS = 1000;

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

export function buildServer(options: ServerOptions): AsrServer {
  const ctx = createContext(options);
  const app = Fastify({
    logger: false,
    trustProxy: ctx.trustProxy,
    bodyLimit: 1024 * 1024, // non-multipart bodies (nothing here takes one)
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  app.register(errorsPlugin, { ctx });
  app.register(accessPlugin, { ctx });
  app.register(infoPlugin, { ctx });
  app.register(modelFilesPlugin, { ctx });
  app.register(transcriptionPlugin, { ctx });
  app.register(jobsPlugin, { ctx });
  app.register(realtimePlugin, { ctx, options: options.realtime });
  app.register(webPagePlugin, { ctx });

  app.decorate('closeGracefully', gracefulClose(app, ctx));
  app.decorate('jobQueue', { getter: () => ctx.queue });
  return app as unknown as AsrServer;
}

/** `closeGracefully` (see `AsrServer`): drain the queue, answer, close; after the timeout abort what is left. */
function gracefulClose(app: FastifyInstance, ctx: ServerContext): (options?: CloseOptions) => Promise<void> {
  const { queue } = ctx;
  let closing: Promise<void> | null = null;
  return (closeOptions: CloseOptions = {}): Promise<void> => {
    closing ??= (async () => {
      ctx.shuttingDown = true;
      queue.close();
      const timeoutMs = closeOptions.timeoutMs ?? ctx.shutdownTimeoutMs;
      // app.close() stops listening at once, answers requests that arrive on open connections
      // with 503, and resolves when the in-flight requests (our queued jobs) have been answered.
      const closed = app.close();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((res) => {
        timer = setTimeout(() => res('timeout'), timeoutMs);
      });
      // With a job queue, the requests waiting for the workers' results count as queued jobs.
      const drained = Promise.all([queue.drain(), ctx.remoteQueue?.drain()]).then(() => 'drained' as const);
      const first = await Promise.race([drained, timedOut]);
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
  say(`glm-asr server listening on ${url} (model ${publicModelId(serverOptions.transcriber.modelId)})`);
  return { app, url, close };
}
