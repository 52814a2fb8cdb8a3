/**
 * One Realtime transcription session: a WebSocket on one side, the engine's live sessions (`Transcriber.live`) on
 * the other.
 *
 * Client events are parsed and checked here; a mistake in an event is answered with an `error` event and the
 * session goes on, while audio the server cannot read (a binary frame, bad base64, an odd byte count, an append
 * over the limit, a non-PCM format) gets an `error` event and then a close with a WebSocket code and reason. The
 * engine's events become OpenAI's server events; its whole-text partials become append-only deltas
 * (`appendOnlyDelta`).
 *
 * A live session is opened at the first append and replaced when `session.update` changes the rate or the turn
 * detection: the old one finishes its pending utterance (its events still arrive) while the new one starts.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { clip, type RequestInfo } from './context';
import {
  applySessionUpdate, applyTranscriptionSessionUpdate, appendOnlyDelta, isObject, RealtimeClientError, sessionObject,
  transcriptionSessionObject, type SessionConfig, type SessionIdentity,
} from './realtime-config';
import type { LiveOptions, LiveSession } from './transcriber';

export interface RealtimeLimits {
  /** Sessions open at once; more are refused with 503 before the upgrade. */
  maxSessions: number;
  /** Wall-clock length of a session. */
  maxSessionSeconds: number;
  /** A session that sends nothing for this long is closed. */
  idleTimeoutSeconds: number;
  /** Largest audio in one `input_audio_buffer.append`, decoded bytes. */
  maxAppendBytes: number;
  /**
   * Audio seconds a session may have waiting in the engine (received, not yet transcribed). Past it the server
   * stops reading that socket until the engine has caught up (TCP back-pressure on the client), so a client
   * sending faster than real time, or an engine slower than it, never makes the session's memory grow.
   */
  maxBufferedSeconds: number;
  /** Server events a client has not read yet (the socket's send buffer); past it the session is closed. */
  maxUnsentBytes: number;
}

/** WebSocket close codes (RFC 6455 §7.4.1) the server uses. */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  invalidPayload: 1007,
  policy: 1008,
  tooBig: 1009,
  serverError: 1011,
  tryAgainLater: 1013,
} as const;

/** How long a shutting-down server waits for the finals of the utterances in progress. */
const SHUTDOWN_FLUSH_MS = 5000;

export interface RealtimeSessionDeps {
  socket: WebSocket;
  openLive: (options: LiveOptions) => LiveSession;
  config: SessionConfig;
  limits: RealtimeLimits;
  /** Shortest audio a commit may hold (the model's `minAudioSeconds`). */
  minAudioSeconds: number;
  /** The request's log entry: audio seconds as they arrive, and why the server ended the session (absent when the
   * client did). */
  log: Pick<RequestInfo, 'audioSec' | 'error'>;
  onEnd: (session: RealtimeSession) => void;
}

interface ItemState {
  id: string;
  /** Text sent as deltas so far. */
  sent: string;
}

type ServerEvent = { type: string } & Record<string, unknown>;

export class RealtimeSession {
  readonly identity: SessionIdentity;
  /** Audio received, in seconds. */
  private audioSeconds = 0;
  private config: SessionConfig;
  private readonly deps: RealtimeSessionDeps;
  private readonly socket: WebSocket;
  private readonly tag = randomBytes(6).toString('hex');
  private live: LiveSession | null = null;
  /** Open live sessions and the promises of their event pumps. */
  private readonly lives = new Map<LiveSession, Promise<void>>();
  private uncommittedSeconds = 0;
  private lastCommitted: string | null = null;
  private events = 0;
  private readonly held: [Buffer, boolean][] = [];
  private items = 0;
  private ended = false;
  private accepting = true;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly lengthTimer: NodeJS.Timeout;

  constructor(deps: RealtimeSessionDeps) {
    this.deps = deps;
    this.socket = deps.socket;
    this.config = deps.config;
    const { limits } = deps;
    this.identity = {
      id: `sess_${this.tag}`,
      expiresAt: Math.floor(Date.now() / 1000 + limits.maxSessionSeconds),
    };
    this.socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    this.socket.on('close', () => this.end(null, 'client closed'));
    this.lengthTimer = setTimeout(() => {
      const message = `The session reached its maximum length of ${limits.maxSessionSeconds} s.`;
      void this.finish('session_expired', message, CLOSE.policy, 'session expired');
    }, limits.maxSessionSeconds * 1000);
    this.touch();
    this.send({ type: 'session.created', session: sessionObject(this.config, this.identity) });
    if (this.ended) return;
    try {
      this.live = this.openLive(this.config);
    } catch (err) {
      // e.g. server_vad on an engine without VAD weights: the client may switch to manual turns.
      if (!(err instanceof RealtimeClientError)) throw err;
      this.fail(err, null);
    }
  }

  /** Server shutdown: stop reading, let the utterances in progress finish (a few seconds at most), then close. */
  shutdown(): Promise<void> {
    return this.finish('server_shutting_down', 'The server is shutting down.', CLOSE.goingAway, 'server shutting down');
  }

  // ------------------------------------------------------------------ client → server

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (!this.accepting || this.ended) return; // frames still arriving while the socket closes
    this.touch();
    // Frames ws had already read when the socket was paused wait here (at most one socket read's worth).
    if (this.socket.isPaused) {
      this.held.push([data, isBinary]);
      return;
    }
    this.handle(data, isBinary);
  }

  private handle(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      const message = 'Binary frames are not accepted: send JSON text events, the audio base64 in ' +
        'input_audio_buffer.append.';
      return this.fail(new RealtimeClientError(message, 'binary_frame', null, CLOSE.unsupportedData), null);
    }
    let event: unknown;
    try {
      event = JSON.parse(data.toString('utf8'));
    } catch {
      const message = `The event is not valid JSON (${data.length} bytes): ${clip(data.toString('utf8'), 60)}`;
      return this.fail(new RealtimeClientError(message, 'invalid_json'), null);
    }
    const eventId = isObject(event) && typeof event.event_id === 'string' ? clip(event.event_id, 100) : null;
    try {
      this.dispatch(event);
    } catch (err) {
      if (err instanceof RealtimeClientError) return this.fail(err, eventId);
      this.deps.log.error = `internal_error: ${clip(err instanceof Error ? err.message : String(err), 200)}`;
      const message = 'The server had an error; the session is closed.';
      this.sendError('server_error', 'internal_error', message, null, eventId);
      this.end(CLOSE.serverError, 'internal error');
    }
  }

  private dispatch(event: unknown): void {
    if (!isObject(event)) throw new RealtimeClientError('An event must be a JSON object.', 'invalid_event');
    switch (event.type) {
      case 'session.update':
        this.reconfigure(applySessionUpdate(this.config, event.session));
        return this.send({ type: 'session.updated', session: sessionObject(this.config, this.identity) });
      case 'transcription_session.update':
        this.reconfigure(applyTranscriptionSessionUpdate(this.config, event.session));
        return this.send({
          type: 'transcription_session.updated', session: transcriptionSessionObject(this.config, this.identity),
        });
      case 'input_audio_buffer.append':
        return this.append(event.audio);
      case 'input_audio_buffer.commit':
        return this.commit();
      case 'input_audio_buffer.clear':
        this.live?.clear();
        this.uncommittedSeconds = 0;
        return this.send({ type: 'input_audio_buffer.cleared' });
      default: {
        const got = typeof event.type === 'string' ? `'${clip(event.type, 60)}'` : 'no type';
        const message = `Unsupported event type (${got}) in a transcription session; supported: session.update, ` +
          'transcription_session.update, input_audio_buffer.append, input_audio_buffer.commit, ' +
          'input_audio_buffer.clear.';
        throw new RealtimeClientError(message, 'invalid_value', 'type');
      }
    }
  }

  /** A new configuration; one that changes the rate or the turn detection gets a new live session now. */
  private reconfigure(next: SessionConfig): void {
    const prev = this.config;
    const engineChanged = next.rate !== prev.rate ||
      JSON.stringify(next.turnDetection) !== JSON.stringify(prev.turnDetection);
    if (engineChanged) {
      const old = this.live;
      this.live = this.openLive(next);
      // The old session finishes the utterance it holds; its events still arrive (its failures too, via pump).
      old?.close().catch(() => {});
    }
    this.config = next;
  }

  private append(audio: unknown): void {
    if (typeof audio !== 'string' || audio.length === 0) {
      throw new RealtimeClientError("'audio' must be a non-empty base64 string.", 'invalid_value', 'audio');
    }
    const { maxAppendBytes } = this.deps.limits;
    const bytes = Math.floor((audio.length * 3) / 4);
    if (bytes > maxAppendBytes + 2) {
      const message = `input_audio_buffer.append holds about ${bytes} bytes of audio; the limit is ${maxAppendBytes} ` +
        'bytes per event: send smaller chunks.';
      throw new RealtimeClientError(message, 'audio_too_large', 'audio', CLOSE.tooBig);
    }
    if (audio.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(audio)) {
      const bad = audio.search(/[^A-Za-z0-9+/=]/);
      const where = bad >= 0 ? `a ${JSON.stringify(audio[bad])} at character ${bad}` : `length ${audio.length}`;
      const message = `'audio' is not valid base64 (${where}).`;
      throw new RealtimeClientError(message, 'invalid_audio', 'audio', CLOSE.invalidPayload);
    }
    const pcm = Buffer.from(audio, 'base64');
    if (pcm.length % 2 !== 0) {
      const message = `'audio' decodes to ${pcm.length} bytes, an odd count: expected 16-bit little-endian mono PCM ` +
        '(2 bytes per sample).';
      throw new RealtimeClientError(message, 'invalid_audio', 'audio', CLOSE.invalidPayload);
    }
    if (pcm.length > maxAppendBytes) {
      const message = `input_audio_buffer.append holds ${pcm.length} bytes of audio; the limit is ${maxAppendBytes} ` +
        'bytes per event: send smaller chunks.';
      throw new RealtimeClientError(message, 'audio_too_large', 'audio', CLOSE.tooBig);
    }
    if (pcm.length === 0) return;
    // A copy on its own aligned buffer, read as the host's (little-endian) int16.
    const samples = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length));
    const live = (this.live ??= this.openLive(this.config));
    try {
      live.push(samples);
    } catch (err) {
      // The engine's backlog is full despite the back-pressure, or the session has failed.
      const message = `The audio could not be queued: ${clip(err instanceof Error ? err.message : String(err), 200)}`;
      throw new RealtimeClientError(message, 'buffer_full', 'audio', CLOSE.policy);
    }
    const seconds = samples.length / this.config.rate;
    this.audioSeconds += seconds;
    this.deps.log.audioSec = this.audioSeconds;
    this.uncommittedSeconds += seconds;
    this.throttle(live);
  }

  private commit(): void {
    const min = this.deps.minAudioSeconds;
    if (!this.live || this.uncommittedSeconds < min) {
      const have = (this.uncommittedSeconds * 1000).toFixed(1);
      const message = `Cannot commit: the input audio buffer holds ${have} ms of audio, at least ` +
        `${(min * 1000).toFixed(1)} ms is needed.`;
      throw new RealtimeClientError(message, 'input_audio_buffer_commit_empty');
    }
    this.live.commit();
  }

  /** Stops reading the socket while the engine holds more than `maxBufferedSeconds` of this session's audio. */
  private throttle(live: LiveSession): void {
    const backlog = live.stats?.backlogSeconds ?? 0;
    if (backlog <= this.deps.limits.maxBufferedSeconds || this.socket.isPaused || !live.drained) return;
    this.socket.pause();
    void live.drained().then(() => {
      if (this.ended) return;
      this.socket.resume();
      // The held frames first, in order, unless one of them pauses the socket again.
      while (this.held.length && !this.socket.isPaused && this.accepting && !this.ended) {
        this.handle(...this.held.shift()!);
      }
    });
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    const { idleTimeoutSeconds } = this.deps.limits;
    this.idleTimer = setTimeout(() => {
      // A client the server itself has stopped reading (back-pressure) is not idle.
      if (this.socket.isPaused) return this.touch();
      const message = `No event for ${idleTimeoutSeconds} s: the session is closed.`;
      void this.finish('idle_timeout', message, CLOSE.policy, 'idle timeout');
    }, idleTimeoutSeconds * 1000);
  }

  // ------------------------------------------------------------------ engine → client

  /** Opens a live session for `config`; an option the engine refuses is the client's mistake. */
  private openLive(config: SessionConfig): LiveSession {
    const vad = config.turnDetection;
    const { maxBufferedSeconds, maxAppendBytes } = this.deps.limits;
    let live: LiveSession;
    try {
      live = this.deps.openLive({
        sampleRate: config.rate,
        turnDetection: vad && {
          threshold: vad.threshold, silenceDurationMs: vad.silence_duration_ms, prefixPaddingMs: vad.prefix_padding_ms,
        },
        // Room for one more append after the back-pressure check (throttle) has let it through.
        maxBacklogSeconds: Math.max(60, Math.ceil(maxBufferedSeconds + maxAppendBytes / 2 / config.rate + 1)),
        name: this.identity.id,
      });
    } catch (err) {
      if (!(err instanceof Error && err.name === 'OptionError')) throw err;
      const option = (err as Error & { option?: unknown }).option;
      const param = typeof option === 'string'
        ? `session.audio.input.${option.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}` : null;
      throw new RealtimeClientError(clip(err.message, 300), 'invalid_option', param);
    }
    this.lives.set(live, this.pump(live, this.audioSeconds * 1000));
    return live;
  }

  /** Forwards one live session's events; `offsetMs` is where its audio starts in the session's audio. */
  private async pump(live: LiveSession, offsetMs: number): Promise<void> {
    const items = new Map<number, ItemState>();
    const item = (n: number): ItemState => {
      let s = items.get(n);
      if (!s) items.set(n, (s = { id: `item_${this.tag}${String(this.items++).padStart(4, '0')}`, sent: '' }));
      return s;
    };
    try {
      for await (const e of live) {
        switch (e.type) {
          case 'speech-started':
            this.send({ type: 'input_audio_buffer.speech_started',
              audio_start_ms: Math.round(offsetMs + e.audioStartMs), item_id: item(e.item).id });
            break;
          case 'speech-stopped':
            this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.round(offsetMs + e.audioEndMs),
              item_id: item(e.item).id });
            break;
          case 'committed': {
            const { id } = item(e.item);
            this.uncommittedSeconds = 0;
            this.send({ type: 'input_audio_buffer.committed', item_id: id, previous_item_id: this.lastCommitted });
            this.lastCommitted = id;
            break;
          }
          case 'partial':
            this.sendDelta(item(e.item), e.text, false);
            break;
          case 'final': {
            const state = item(e.item);
            const transcript = e.segment.text;
            this.sendDelta(state, transcript, true);
            const seconds = Math.round((e.segment.end - e.segment.start) * 1000) / 1000;
            this.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: state.id,
              content_index: 0, transcript, usage: { type: 'duration', seconds } });
            items.delete(e.item);
            break;
          }
          case 'commit-empty':
            // A commit over silence (server_vad between turns): OpenAI answers it with this error.
            this.sendError('invalid_request_error', 'input_audio_buffer_commit_empty',
              'Cannot commit: no speech is in progress in the input audio buffer.', null);
            break;
        }
      }
    } catch (err) {
      if (this.ended) return;
      this.deps.log.error = `engine_error: ${clip(err instanceof Error ? err.message : String(err), 200)}`;
      this.sendError('server_error', 'engine_error', 'The transcription engine failed; the session is closed.', null);
      this.end(CLOSE.serverError, 'engine error');
    } finally {
      this.lives.delete(live);
      if (this.live === live) this.live = null;
    }
  }

  private sendDelta(state: ItemState, hypothesis: string, final: boolean): void {
    const delta = appendOnlyDelta(state.sent, hypothesis, final);
    if (!delta) return;
    state.sent += delta;
    const type = 'conversation.item.input_audio_transcription.delta';
    this.send({ type, item_id: state.id, content_index: 0, delta });
  }

  private send(event: ServerEvent): void {
    if (this.ended || this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > this.deps.limits.maxUnsentBytes) {
      // The client stopped reading: drop it rather than hold its events without bound (a close frame would
      // wait behind them).
      this.deps.log.error = 'client_not_reading';
      this.end(null, 'client is not reading its events');
      this.socket.terminate();
      return;
    }
    this.socket.send(JSON.stringify({ event_id: `event_${this.tag}${this.events++}`, ...event }));
  }

  private sendError(type: string, code: string, message: string, param: string | null, eventId: string | null = null) {
    this.send({ type: 'error', error: { type, code, message, param, event_id: eventId } });
  }

  /** A client mistake: an error event, then a close when the session cannot go on. */
  private fail(err: RealtimeClientError, eventId: string | null): void {
    this.sendError('invalid_request_error', err.code, err.message, err.param, eventId);
    if (err.closeCode !== null) {
      this.deps.log.error = err.code;
      this.end(err.closeCode, clip(err.code.replace(/_/g, ' '), 100));
    }
  }

  /** A limit or the shutdown: an error event, the pending finals (bounded), then the close. */
  private async finish(code: string, message: string, closeCode: number, reason: string): Promise<void> {
    if (this.ended || !this.accepting) return;
    this.accepting = false;
    this.deps.log.error = code;
    this.sendError(code === 'server_shutting_down' ? 'server_error' : 'invalid_request_error', code, message, null);
    let timer: NodeJS.Timeout | undefined;
    for (const live of this.lives.keys()) live.close().catch(() => {}); // a failure ends its pump
    const flushed = Promise.all(this.lives.values());
    await Promise.race([flushed, new Promise((r) => (timer = setTimeout(r, SHUTDOWN_FLUSH_MS)))]);
    clearTimeout(timer);
    this.end(closeCode, reason);
  }

  /** Stops everything now; `code` null when the client closed the socket. */
  private end(code: number | null, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (code !== null) this.deps.log.error ??= reason;
    clearTimeout(this.idleTimer);
    clearTimeout(this.lengthTimer);
    for (const live of this.lives.keys()) live.abort();
    this.lives.clear();
    this.live = null;
    if (code !== null) this.socket.close(code, reason);
    this.deps.onEnd(this);
  }
}
