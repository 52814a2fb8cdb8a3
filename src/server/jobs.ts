/**
 * Transcriptions on a shared queue (`glm-asr serve --queue redis://…`, src/queue/): the upload goes to Redis,
 * a GPU worker runs it, and the front end that holds the client's connection answers. `async=true` answers 202
 * with a job id at once; `GET /v1/jobs/{id}` (this plugin) gives the job's status and, once done, its result,
 * from any front end.
 */
import type { FastifyPluginAsync } from 'fastify';
import { formatTranscription } from '../formats';
import { QueueUnavailableError } from '../queue/errors';
import type { JobView, QueueFrontEnd, SubmitJob } from '../queue/frontend';
import type { QueueJobResult, QueueProgress } from '../queue/protocol';
import { rateLimited, requireKey } from './access';
import { clip, type RequestInfo, type ServerContext } from './context';
import { ApiError } from './errors';
import type { TranscribeEvent, Transcription } from './transcriber';

export const jobsPlugin: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const remote = ctx.remoteQueue;
  if (!remote) return;
  app.addHook('onClose', () => remote.close());
  const v1 = { config: rateLimited(ctx), preParsing: requireKey(ctx) };
  app.get<{ Params: { id: string } }>('/v1/jobs/:id', v1, async (request) => {
    const id = request.params.id;
    const view = /^[0-9a-f-]{36}$/.test(id) ? await guarded(remote.get(id)) : null;
    if (!view) {
      const message = `No job '${clip(id, 60)}' (unknown, or its result expired).`;
      throw new ApiError(404, message, 'invalid_request_error', 'job_not_found', 'id');
    }
    return jobBody(view);
  });
};

/** The 503 every queue operation answers while Redis is unreachable. */
export function queueUnavailableError(): ApiError {
  const message = 'The job queue is unreachable right now; please retry shortly.';
  return new ApiError(503, message, 'server_error', 'queue_unavailable', null, { 'retry-after': '5' });
}

async function guarded<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw err instanceof QueueUnavailableError ? queueUnavailableError() : err;
  }
}

/** `async=true`: queue the job and describe it (the 202 body). */
export async function submitJob(remote: QueueFrontEnd, info: RequestInfo, job: SubmitJob) {
  const id = await guarded(remote.submit(job));
  info.jobId = id;
  return { id, object: 'transcription.job', status: 'queued', created_at: Math.floor(Date.now() / 1000) };
}

/**
 * Queue the job and wait for its result; a client error found by the worker is thrown as the ApiError.
 * `onEvent` (with `job.stream`) receives the engine's events as the worker sends them.
 */
export async function transcribeOnQueue(
  remote: QueueFrontEnd,
  info: RequestInfo,
  job: SubmitJob,
  opts: { signal: AbortSignal; onEvent?: (e: TranscribeEvent) => void },
): Promise<Transcription> {
  const id = remote.newJobId();
  info.jobId = id;
  const failedToQueue = new AbortController();
  const onProgress = opts.onEvent ? onceAcrossRuns(opts.onEvent) : undefined;
  // Listening before the job exists: its first progress update may come before `submit` returns.
  const waiting = remote.wait(id, { signal: AbortSignal.any([opts.signal, failedToQueue.signal]), onProgress });
  try {
    await guarded(remote.submit(job, id));
  } catch (err) {
    waiting.catch(() => {});
    failedToQueue.abort(err);
    throw err;
  }
  const result = await waiting;
  info.queueMs = result.queueMs;
  info.runMs = result.runMs;
  return unwrap(result);
}

/**
 * The events of a job's runs as one stream. A job run again (its worker died) sends its events from the start;
 * the engine is deterministic, so event k of every run is the same, and only events past those already passed on
 * are passed on. (Workers of one queue must therefore run the same model at the same precision.)
 */
export function onceAcrossRuns(onEvent: (e: TranscribeEvent) => void): (p: QueueProgress) => void {
  let run: string | null = null;
  let seen = 0;
  let passed = 0;
  return (p) => {
    if (p.type !== 'event') return;
    if (p.run !== run) {
      run = p.run;
      seen = 0;
    }
    if (++seen > passed) {
      passed = seen;
      onEvent(p.event);
    }
  };
}

function unwrap(result: QueueJobResult): Transcription {
  if (result.ok) return result.transcription;
  const { status, message, code, param } = result.error;
  throw new ApiError(status, message, 'invalid_request_error', code, param);
}

/** `GET /v1/jobs/{id}`: the result in the format the job was posted with (text formats as a string). */
function jobBody(view: JobView) {
  const { format, language } = view.data;
  const body: Record<string, unknown> = {
    id: view.id,
    object: 'transcription.job',
    status: view.status,
    created_at: Math.floor(view.createdAt / 1000),
    response_format: format,
  };
  const { result } = view;
  if (result?.ok) {
    const text = formatTranscription(result.transcription, format, { language });
    body.result = format === 'json' || format === 'verbose_json' ? JSON.parse(text) : text;
  } else if (result) {
    body.status = 'failed';
    const { message, code, param } = result.error;
    body.error = { message, type: 'invalid_request_error', param, code };
  } else if (view.status === 'failed') {
    body.error = {
      message: 'The transcription failed on the worker.',
      type: 'server_error',
      code: 'internal_error',
      param: null,
    };
  }
  return body;
}
