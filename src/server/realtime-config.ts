/**
 * The Realtime protocol's data, without sockets: a transcription session's configuration, the two shapes a client
 * may send it in (`session.update`, the current one, and the older `transcription_session.update`), the session
 * objects the server echoes, and how whole-text partial hypotheses become append-only deltas.
 *
 * Shapes follow the `openai` package's types (resources/realtime/realtime.d.ts).
 */
import { clip } from './context';

/** Input rates: 24 kHz is OpenAI's (the default); 16 kHz (the model's own rate) is an extension. */
export const REALTIME_RATES = [24000, 16000] as const;
export type RealtimeRate = (typeof REALTIME_RATES)[number];

export interface ServerVad {
  type: 'server_vad';
  threshold: number;
  prefix_padding_ms: number;
  silence_duration_ms: number;
}

export interface SessionConfig {
  rate: RealtimeRate;
  transcription: { model: string; language: string | null; prompt: string };
  turnDetection: ServerVad | null;
}

/** OpenAI's server_vad defaults. */
export const DEFAULT_SERVER_VAD: ServerVad = {
  type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500,
};

export function defaultSessionConfig(model: string): SessionConfig {
  const transcription = { model, language: null, prompt: '' };
  return { rate: 24000, transcription, turnDetection: { ...DEFAULT_SERVER_VAD } };
}

/**
 * A client mistake in an event. `fatal` ones (audio the server cannot read) end the session with `closeCode`;
 * the others are answered with an `error` event and the session goes on.
 */
export class RealtimeClientError extends Error {
  override readonly name = 'RealtimeClientError';
  constructor(
    message: string,
    readonly code: string,
    readonly param: string | null = null,
    /** WebSocket close code when the session cannot go on (1003 unsupported data, 1007 bad data, 1009 too big). */
    readonly closeCode: number | null = null,
  ) {
    super(message);
  }
}

const invalid = (param: string, message: string) => new RealtimeClientError(message, 'invalid_value', param);

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function objectAt(v: unknown, param: string): Record<string, unknown> {
  if (!isObject(v)) throw invalid(param, `'${param}' must be an object.`);
  return v;
}

function numberAt(v: unknown, param: string, min: number, max: number, integer: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    const what = integer ? 'an integer' : 'a number';
    throw invalid(param, `'${param}' must be ${what} from ${min} to ${max}, got ${clip(JSON.stringify(v) ?? '', 40)}.`);
  }
  return v;
}

function stringAt(v: unknown, param: string, maxLength: number): string {
  if (typeof v !== 'string' || v.length > maxLength) {
    throw invalid(param, `'${param}' must be a string of at most ${maxLength} characters.`);
  }
  return v;
}

function unsupportedFormat(param: string, got: string): RealtimeClientError {
  const message = `Unsupported input audio format ${clip(got, 60)} at '${param}': this server reads 16-bit ` +
    'little-endian mono PCM only ({"type":"audio/pcm","rate":24000} or rate 16000; "pcm16" in ' +
    'transcription_session.update).';
  return new RealtimeClientError(message, 'unsupported_audio_format', param, 1003);
}

/** `session.update`'s `session.audio.input.format`. */
function parseFormat(v: unknown, param: string): RealtimeRate {
  const f = objectAt(v, param);
  if (f.type !== undefined && f.type !== 'audio/pcm') throw unsupportedFormat(`${param}.type`, JSON.stringify(f.type));
  if (f.rate === undefined) return 24000;
  if (!REALTIME_RATES.includes(f.rate as RealtimeRate)) {
    throw unsupportedFormat(`${param}.rate`, `rate ${JSON.stringify(f.rate)} (supported: 24000, 16000)`);
  }
  return f.rate as RealtimeRate;
}

function parseTranscription(v: unknown, param: string, current: SessionConfig['transcription']) {
  if (v === null) return { ...current };
  const t = objectAt(v, param);
  const next = { ...current };
  if (t.model !== undefined) next.model = stringAt(t.model, `${param}.model`, 200);
  if (t.language !== undefined) {
    const language = t.language === null ? null : stringAt(t.language, `${param}.language`, 20);
    if (language !== null && !/^[A-Za-z-]{2,20}$/.test(language)) {
      throw invalid(`${param}.language`, `'${param}.language' must be a language code such as 'en'.`);
    }
    next.language = language;
  }
  if (t.prompt !== undefined) next.prompt = stringAt(t.prompt, `${param}.prompt`, 4000);
  return next;
}

function parseTurnDetection(v: unknown, param: string, current: ServerVad | null): ServerVad | null {
  if (v === null) return null;
  const t = objectAt(v, param);
  if (t.type !== undefined && t.type !== 'server_vad') {
    const message = `'${param}.type' must be 'server_vad' (or turn_detection null for manual commits), ` +
      `got ${clip(JSON.stringify(t.type) ?? '', 40)}.`;
    throw new RealtimeClientError(message, 'unsupported_value', `${param}.type`);
  }
  const next: ServerVad = { ...(current ?? DEFAULT_SERVER_VAD) };
  if (t.threshold !== undefined) next.threshold = numberAt(t.threshold, `${param}.threshold`, 0, 1, false);
  if (t.prefix_padding_ms !== undefined) {
    next.prefix_padding_ms = numberAt(t.prefix_padding_ms, `${param}.prefix_padding_ms`, 0, 10_000, true);
  }
  if (t.silence_duration_ms !== undefined) {
    next.silence_duration_ms = numberAt(t.silence_duration_ms, `${param}.silence_duration_ms`, 0, 10_000, true);
  }
  return next;
}

/**
 * `session.update`'s `session` (the current shape) merged into `current`: fields present are updated, the rest
 * kept. Throws `RealtimeClientError` (nothing is changed then).
 */
export function applySessionUpdate(current: SessionConfig, v: unknown, param = 'session'): SessionConfig {
  const s = objectAt(v, param);
  if (s.type !== 'transcription') {
    const message = `'${param}.type' must be 'transcription': this server only transcribes ` +
      `(got ${clip(JSON.stringify(s.type) ?? 'nothing', 40)}).`;
    throw new RealtimeClientError(message, 'unsupported_value', `${param}.type`);
  }
  const next: SessionConfig = { ...current };
  if (s.audio === undefined) return next;
  const audio = objectAt(s.audio, `${param}.audio`);
  if (audio.input === undefined) return next;
  const p = `${param}.audio.input`;
  const input = objectAt(audio.input, p);
  if (input.format !== undefined) next.rate = parseFormat(input.format, `${p}.format`);
  if (input.transcription !== undefined) {
    next.transcription = parseTranscription(input.transcription, `${p}.transcription`, current.transcription);
  }
  if (input.turn_detection !== undefined) {
    next.turnDetection = parseTurnDetection(input.turn_detection, `${p}.turn_detection`, current.turnDetection);
  }
  return next;
}

/** The older `transcription_session.update`'s `session` merged into `current` (24 kHz `pcm16` only). */
export function applyTranscriptionSessionUpdate(current: SessionConfig, v: unknown): SessionConfig {
  const param = 'session';
  const s = objectAt(v, param);
  const next: SessionConfig = { ...current };
  if (s.input_audio_format !== undefined && s.input_audio_format !== 'pcm16') {
    throw unsupportedFormat(`${param}.input_audio_format`, clip(JSON.stringify(s.input_audio_format) ?? '', 40));
  }
  if (s.input_audio_format !== undefined) next.rate = 24000;
  if (s.input_audio_transcription !== undefined) {
    const p = `${param}.input_audio_transcription`;
    next.transcription = parseTranscription(s.input_audio_transcription, p, current.transcription);
  }
  if (s.turn_detection !== undefined) {
    next.turnDetection = parseTurnDetection(s.turn_detection, `${param}.turn_detection`, current.turnDetection);
  }
  return next;
}

export interface SessionIdentity {
  id: string;
  /** Unix seconds when the session ends (its length limit). */
  expiresAt: number;
}

/** The session object of `session.created` / `session.updated` and of a client secret (the current shape). */
export function sessionObject(config: SessionConfig, who: SessionIdentity) {
  return {
    type: 'transcription' as const,
    id: who.id,
    object: 'realtime.transcription_session',
    expires_at: who.expiresAt,
    audio: {
      input: {
        format: { type: 'audio/pcm' as const, rate: config.rate },
        transcription: { ...config.transcription },
        turn_detection: config.turnDetection && { ...config.turnDetection },
        noise_reduction: null,
      },
    },
    include: [],
  };
}

/** The session object of `transcription_session.updated` (the older shape). */
export function transcriptionSessionObject(config: SessionConfig, who: SessionIdentity) {
  return {
    id: who.id,
    object: 'realtime.transcription_session',
    expires_at: who.expiresAt,
    modalities: ['text'],
    input_audio_format: config.rate === 24000 ? 'pcm16' : 'pcm16_16khz',
    input_audio_transcription: { ...config.transcription },
    turn_detection: config.turnDetection && { ...config.turnDetection },
    input_audio_noise_reduction: null,
    include: [],
  };
}

/**
 * OpenAI's transcription deltas only ever append; the engine's partials are whole-text hypotheses that may change.
 * Given the text already sent for an item and the newest hypothesis, the text to append now (possibly ''):
 * - a partial contributes only its settled part, up to and including its last whitespace (the last word is the
 *   one most likely to change; text without spaces, such as Chinese, holds back its last character);
 * - a final (`final: true`) contributes all of its text;
 * - either only when it extends what was sent. Once a hypothesis has revised sent text, nothing more is sent for
 *   the item until the `completed` event, whose `transcript` is authoritative.
 * So the deltas of an item join to a prefix of some hypothesis, never contradict each other, and, whenever the
 * engine did not revise sent words, join to exactly the completed transcript.
 */
export function appendOnlyDelta(sent: string, hypothesis: string, final: boolean): string {
  let settled = hypothesis;
  if (!final) {
    const cut = Math.max(hypothesis.lastIndexOf(' '), hypothesis.lastIndexOf('\n'));
    const chars = Array.from(hypothesis);
    settled = cut >= 0 ? hypothesis.slice(0, cut + 1) : chars.slice(0, -1).join('');
  }
  return settled.length > sent.length && settled.startsWith(sent) ? settled.slice(sent.length) : '';
}
