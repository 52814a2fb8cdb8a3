/**
 * `POST /v1/audio/transcriptions` (OpenAI-compatible), in this order:
 *   1. refuse early when the server is closing or the queue is full (503) — before reading the body;
 *   2. read the multipart form: the file ≤ maxUploadBytes (else 413); a malformed body is a 400;
 *   3. check the fields (400) — `beams` up to the transcriber's real capacity;
 *   4. read the audio's header: format, sample rate (1 kHz–768 kHz) and, where the header says,
 *      the duration, checked against maxAudioSeconds (413) and the model's shortest input (400)
 *      before a single sample is decoded;
 *   5. queue the job; when it runs, decode to 16 kHz mono in bounded steps that give the event loop
 *      a turn every few milliseconds and stop at maxAudioSeconds of decoded audio, then transcribe.
 *      Only the running job holds decoded audio. A client that disconnects while its job waits
 *      gets the job skipped.
 * With `stream=true` the answer is Server-Sent Events in OpenAI's shape, sent as the engine decodes:
 * `transcript.text.delta` events (`delta`), then one `transcript.text.done` (`text`). Errors found before the first
 * event are ordinary HTTP errors; a later one ends the stream with an `error` event.
 */
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { decodeAudio, probeAudio, TARGET_SAMPLE_RATE } from '../audio';
import {
  formatTranscription,
  isResponseFormat,
  RESPONSE_CONTENT_TYPES,
  RESPONSE_FORMATS,
  type ResponseFormat,
} from '../formats';
import { rateLimited, requireKey } from './access';
import { clip, type ServerContext } from './context';
import {
  ApiError,
  badRequest,
  ClientGoneError,
  fileTooLargeError,
  notMultipartError,
  queueFullError,
  shuttingDownError,
} from './errors';
import { submitJob, transcribeOnQueue } from './jobs';
import { MIN_CHUNK_SECONDS } from '../models/glm-asr/config';
import { SEGMENTERS } from '../models/glm-asr/options';
import type { Samples16k, SegmenterKind, TranscribeEvent, TranscribeOptions, Transcription } from './transcriber';

/** Multipart headers and the small text fields on top of the file. */
const FORM_OVERHEAD_BYTES = 1024 * 1024;

interface UploadedForm {
  file: { bytes: Uint8Array; filename: string } | null;
  fields: Map<string, string[]>;
}

/** Parses an integer form field within [min, max]; undefined when absent. */
function intField(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (!/^[+]?\d+$/.test(v)) throw badRequest(`'${name}' must be an integer, got '${clip(v, 40)}'.`, name);
  const n = Number(v);
  if (n < min || n > max) throw badRequest(`'${name}' must be between ${min} and ${max}, got ${n}.`, name);
  return n;
}

/** A number field (a decimal); undefined when absent or blank. */
function numberField(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  const n = /^[+]?(\d+\.?\d*|\.\d+)$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) {
    throw badRequest(`'${name}' must be a number from ${min} to ${max}, got '${clip(v, 40)}'.`, name);
  }
  return n;
}

/** Errors the multipart parser throws without a code (busboy's): the body is not a valid form. */
function isParserError(err: unknown): boolean {
  return err instanceof Error && !(err instanceof ApiError) && typeof (err as { code?: unknown }).code !== 'string';
}

/** Reads the whole form. Field errors are kept until the body is fully read, then thrown. */
async function readForm(request: FastifyRequest): Promise<UploadedForm> {
  const form: UploadedForm = { file: null, fields: new Map() };
  let deferred: ApiError | null = null;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') {
          await part.toBuffer(); // drain it (still bounded by the size limit)
          const message = `Unexpected file field '${clip(part.fieldname, 40)}': the audio goes in 'file'.`;
          deferred ??= badRequest(message, part.fieldname, 'unexpected_file');
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
  } catch (err) {
    if (!isParserError(err)) throw err;
    // no boundary, a boundary the body does not use, a body cut short
    const message = `The multipart/form-data body could not be read: ${clip((err as Error).message, 200)}.`;
    throw badRequest(message, null, 'invalid_multipart');
  }
  if (deferred) throw deferred;
  return form;
}

export const transcriptionPlugin: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const { transcriber, queue, maxUploadBytes, maxAudioSeconds } = ctx;
  const minSamples = Math.round(transcriber.minAudioSeconds * TARGET_SAMPLE_RATE);
  const tooShort = (name: string, seconds: number) =>
    new ApiError(
      400,
      `${name}: the audio is ${(seconds * 1000).toFixed(1)} ms long; ` +
        `the shortest the model takes is ${(transcriber.minAudioSeconds * 1000).toFixed(1)} ms.`,
      'invalid_request_error',
      'audio_too_short',
      'file',
    );

  await app.register(multipart, {
    limits: { fileSize: maxUploadBytes, files: 1, fields: 32, fieldSize: 64 * 1024, parts: 48, headerPairs: 200 },
  });

  const routeOptions = { config: rateLimited(ctx), preParsing: requireKey(ctx) };
  app.post('/v1/audio/transcriptions', routeOptions, async (request, reply): Promise<FastifyReply> => {
    const info = ctx.infos.get(request)!;
    if (ctx.shuttingDown || queue.isClosed) throw shuttingDownError();
    // Refuse before reading a possibly large upload; the queue checks again when the job is pushed.
    if (queue.isFull) throw queueFullError(queue.retryAfterSeconds());
    if (!request.isMultipart()) throw notMultipartError();
    if (info.bytesIn !== null && info.bytesIn > maxUploadBytes + FORM_OVERHEAD_BYTES) {
      throw fileTooLargeError(maxUploadBytes);
    }

    // Aborted when the client goes away before we answer: skips the job if it still waits.
    const gone = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort(new ClientGoneError());
    });

    const form = await readForm(request);
    const one = (name: string) => form.fields.get(name)?.[0];

    const formatField = one('response_format')?.trim() || 'json';
    if (!isResponseFormat(formatField)) {
      const message =
        `'response_format' must be one of ${RESPONSE_FORMATS.join(', ')}; got '${clip(formatField, 40)}'.`;
      throw badRequest(message, 'response_format');
    }
    const format: ResponseFormat = formatField;
    const streamField = one('stream')?.trim().toLowerCase() || 'false';
    if (!['true', 'false', '1', '0'].includes(streamField)) {
      throw badRequest(`'stream' must be true or false, got '${clip(streamField, 40)}'.`, 'stream');
    }
    const stream = streamField === 'true' || streamField === '1';
    const segmenterField = one('segmenter')?.trim() || 'vad';
    if (!(SEGMENTERS as readonly string[]).includes(segmenterField)) {
      const message = `'segmenter' must be one of ${SEGMENTERS.join(', ')}; got '${clip(segmenterField, 40)}'.`;
      throw badRequest(message, 'segmenter');
    }
    const segmenter = segmenterField as SegmenterKind;
    // Up to GLM-ASR's 30 s window; absent: the model's default (generation_config.json glm_asr.max_chunk_seconds).
    const maxChunkSeconds = numberField(one('max_chunk_seconds'), 'max_chunk_seconds', MIN_CHUNK_SECONDS, 30);
    // Segments (with times) are always in verbose_json; word times are not something this model gives.
    for (const g of form.fields.get('timestamp_granularities[]') ?? form.fields.get('timestamp_granularities') ?? []) {
      if (g.trim() === 'segment') continue;
      const message = g.trim() === 'word' ? "'timestamp_granularities[]' word is not supported; use segment."
        : `'timestamp_granularities[]' must be segment, got '${clip(g, 40)}'.`;
      throw badRequest(message, 'timestamp_granularities[]', g.trim() === 'word' ? 'unsupported_value' : undefined);
    }
    const temperature = one('temperature');
    if (temperature !== undefined && temperature.trim() !== '' && !Number.isFinite(Number(temperature))) {
      throw badRequest(`'temperature' must be a number, got '${clip(temperature, 40)}'.`, 'temperature');
    }
    const beams = intField(one('beams'), 'beams', 1, ctx.maxBeams);
    const maxNewTokens = intField(one('max_new_tokens'), 'max_new_tokens', 1, ctx.maxNewTokensLimit);
    const language = one('language')?.trim() || undefined;
    const asyncJob = /^(true|1)$/i.test(one('async')?.trim() ?? '');
    if (asyncJob && !ctx.remoteQueue) {
      throw badRequest("'async' needs a server started with a job queue (--queue).", 'async', 'unsupported_value');
    }
    if (asyncJob && stream) throw badRequest("'async' and 'stream' do not go together.", 'async', 'unsupported_value');
    if (language !== undefined && !/^[A-Za-z-]{2,20}$/.test(language)) {
      throw badRequest(`'language' must be a language code such as 'en', got '${clip(language, 40)}'.`, 'language');
    }

    if (!form.file) throw badRequest("Missing the audio: send it in a multipart 'file' field.", 'file', 'missing_file');
    const { bytes } = form.file;
    const name = clip(form.file.filename || 'upload', 200);
    if (info.bytesIn === null) info.bytesIn = bytes.byteLength;
    if (bytes.byteLength === 0) throw badRequest(`${name}: the file is empty.`, 'file', 'invalid_audio');

    // The header alone: format, rate bounds, duration limits. Nothing is decoded yet.
    const header = probeAudio(bytes, name);
    if (header.durationSec !== undefined) {
      info.audioSec = header.durationSec;
      if (header.durationSec > maxAudioSeconds) {
        throw new ApiError(
          413,
          `${name}: the audio is ${header.durationSec.toFixed(1)} s long; the limit is ${maxAudioSeconds} s.`,
          'invalid_request_error',
          'audio_too_long',
          'file',
        );
      }
      if (Math.ceil(header.durationSec * TARGET_SAMPLE_RATE) < minSamples) throw tooShort(name, header.durationSec);
    }

    const remote = ctx.remoteQueue;
    if (remote) {
      // The workers decode and transcribe (src/queue/); the upload travels as it came.
      const job = {
        requestId: String(request.id), name, bytes, beams, maxNewTokens, maxAudioSeconds, segmenter, maxChunkSeconds,
        stream, format, language,
      };
      if (asyncJob) return reply.code(202).send(await submitJob(remote, info, job));
      if (stream) {
        return streamEvents(reply, (onEvent) => transcribeOnQueue(remote, info, job, { signal: gone.signal, onEvent }));
      }
      const result = await transcribeOnQueue(remote, info, job, { signal: gone.signal });
      return reply.type(RESPONSE_CONTENT_TYPES[format]).send(formatTranscription(result, format, { language }));
    }
    const queuedAt = performance.now();
    let ranAt = queuedAt;
    /** Runs in the queue: decode (bounded, abortable), then `use` the samples. */
    const job = <T>(use: (samples: Samples16k, options: TranscribeOptions) => Promise<T>) => queue
      .push(
        async (signal) => {
          ranAt = performance.now();
          info.queueMs = ranAt - queuedAt;
          const audio = await decodeAudio(bytes, name, { maxSeconds: maxAudioSeconds, signal });
          info.audioSec = audio.durationSec;
          if (audio.samples.length < minSamples) throw tooShort(name, audio.samples.length / TARGET_SAMPLE_RATE);
          const samples = { samples: audio.samples, sampleRate: TARGET_SAMPLE_RATE } as const;
          return use(samples, { name, signal, beams, maxNewTokens, segmenter, maxChunkSeconds });
        },
        { signal: gone.signal },
      )
      .finally(() => {
        if (info.queueMs !== undefined) info.runMs = performance.now() - ranAt;
      });

    if (stream) {
      return streamEvents(reply, (onEvent) => job(async (samples, options) => {
        for await (const e of transcriber.transcribeStream(samples, options)) onEvent(e);
      }));
    }
    const result: Transcription = await job((samples, options) => transcriber.transcribe(samples, options));
    const body = formatTranscription(result, format, { language });
    return reply.type(RESPONSE_CONTENT_TYPES[format]).send(body);
  });
};

/** One Server-Sent Event: a JSON payload on one `data:` line. */
function sse(payload: object): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/**
 * `stream=true`: the engine's `transcribeStream` events (which `produce` passes to its callback, from the local
 * engine or from a queue worker) as OpenAI's transcript events. The response starts with the first event, so errors
 * before it (bad audio, a full queue) are ordinary HTTP errors. Segments are joined with a space, as in
 * `transcribe`'s text, so the deltas add up to the done event's text.
 */
async function streamEvents(
  reply: FastifyReply, produce: (onEvent: (e: TranscribeEvent) => void) => Promise<unknown>,
): Promise<FastifyReply> {
  const body = new PassThrough();
  let started!: () => void;
  const first = new Promise<void>((resolve) => {
    started = resolve;
  });
  let text = '';
  let segmentHasText = false;
  const run = produce((e) => {
    started();
    if (e.type === 'segment-start') segmentHasText = false;
    if (e.type === 'text' && e.delta) {
      const delta = !segmentHasText && text ? ` ${e.delta}` : e.delta;
      segmentHasText = true;
      text += delta;
      body.write(sse({ type: 'transcript.text.delta', delta }));
    }
  }).then(() => {
    body.end(sse({ type: 'transcript.text.done', text }));
  });
  await Promise.race([first, run]); // a failure before the first event rejects here: an HTTP error
  run.catch((err: unknown) => {
    const message = err instanceof ApiError || err instanceof Error ? err.message : String(err);
    body.end(sse({ type: 'error', error: { message: clip(message, 500) } }));
  });
  return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-cache').send(body);
}
