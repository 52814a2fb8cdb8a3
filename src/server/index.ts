/** The HTTP service (`glm-asr serve`) and the output formats shared with the CLI. */
export * from './transcriber';
export * from '../formats';
export {
  JobQueue,
  QueueFullError,
  QueueClosedError,
  type QueueStats,
  type JobQueueOptions,
  type PushOptions,
} from './queue';
export { ApiError, type ApiErrorBody, type ApiErrorType } from './errors';
export {
  DEFAULT_REALTIME_LIMITS, DEFAULT_CLIENT_SECRET_SECONDS, type RealtimeOptions, type RealtimeLimits,
} from './realtime';
export {
  buildServer,
  startServer,
  WEB_CSP,
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_MAX_AUDIO_SECONDS,
  DEFAULT_QUEUE_SIZE,
  DEFAULT_RATE_LIMIT,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_MAX_NEW_TOKENS_LIMIT,
  publicModelId,
  type ServerOptions,
  type StartServerOptions,
  type StartedServer,
  type AsrServer,
  type CloseOptions,
  type LogSink,
  type RateLimitOptions,
  type RequestLogLine,
} from './app';
