/**
 * Output formats for a transcription: plain text, SubRip (.srt), WebVTT (.vtt) and an
 * OpenAI-compatible `verbose_json` object.
 *
 * Generic on purpose: the HTTP service, the CLI and the browser engine all use these, so nothing here knows about
 * HTTP. All functions are pure.
 */
import type { Segment, Transcription } from './models/glm-asr/transcriber';

export type ResponseFormat = 'json' | 'text' | 'srt' | 'vtt' | 'verbose_json';

export const RESPONSE_FORMATS: readonly ResponseFormat[] = ['json', 'text', 'srt', 'vtt', 'verbose_json'];

export function isResponseFormat(value: string): value is ResponseFormat {
  return (RESPONSE_FORMATS as readonly string[]).includes(value);
}

/** Media type to send each format with. */
export const RESPONSE_CONTENT_TYPES: Record<ResponseFormat, string> = {
  json: 'application/json; charset=utf-8',
  verbose_json: 'application/json; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  srt: 'text/plain; charset=utf-8', // what OpenAI sends; SubRip has no registered media type
  vtt: 'text/vtt; charset=utf-8',
};

/** Usual file extension for each format (for downloads and CLI output files). */
export const RESPONSE_EXTENSIONS: Record<ResponseFormat, string> = {
  json: 'json',
  verbose_json: 'json',
  text: 'txt',
  srt: 'srt',
  vtt: 'vtt',
};

/**
 * `HH:MM:SS<sep>mmm` for a time in seconds. Negative and non-finite times become 0; the time is
 * rounded to whole milliseconds before it is split, so 59.9996 s gives 00:01:00.000.
 */
export function formatTimestamp(seconds: number, millisSeparator: ',' | '.'): string {
  const totalMs = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : 0;
  const ms = totalMs % 1000;
  const totalSec = (totalMs - ms) / 1000;
  const s = totalSec % 60;
  const m = Math.floor(totalSec / 60) % 60;
  const h = Math.floor(totalSec / 3600);
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${millisSeparator}${pad(ms, 3)}`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Segment times made safe to print: finite, non-negative, end ≥ start. */
function cueTimes(seg: Segment): [number, number] {
  const start = Number.isFinite(seg.start) && seg.start > 0 ? seg.start : 0;
  const end = Number.isFinite(seg.end) && seg.end > start ? seg.end : start;
  return [start, end];
}

/** Cue text on one or more non-empty lines (a blank line would end the cue early). */
function cueLines(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join('\n');
}

/** One SubRip cue numbered `n` (a blank line after it), or '' for a segment without text. */
export function srtCue(seg: Segment, n: number): string {
  const text = cueLines(seg.text);
  if (!text) return '';
  const [start, end] = cueTimes(seg);
  return `${n}\n${formatTimestamp(start, ',')} --> ${formatTimestamp(end, ',')}\n${text}\n\n`;
}

/** SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a blank line after each cue. */
export function toSrt(segments: readonly Segment[]): string {
  let out = '';
  let n = 0;
  for (const seg of segments) {
    const cue = srtCue(seg, n + 1);
    if (cue) n++;
    out += cue;
  }
  return out;
}

/** The WebVTT file header; cues (`vttCue`) follow it. */
export const VTT_HEADER = 'WEBVTT\n\n';

/**
 * One WebVTT cue (`HH:MM:SS.mmm --> HH:MM:SS.mmm`, a blank line after it), or '' for a segment without text. Cue
 * text is escaped (`&`, `<`, `>`) because WebVTT cue text is markup, and `-->` cannot appear in it.
 */
export function vttCue(seg: Segment): string {
  const text = cueLines(seg.text);
  if (!text) return '';
  const [start, end] = cueTimes(seg);
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `${formatTimestamp(start, '.')} --> ${formatTimestamp(end, '.')}\n${escaped}\n\n`;
}

/** WebVTT: the `WEBVTT` header, then one cue per segment with text. */
export function toVtt(segments: readonly Segment[]): string {
  return VTT_HEADER + segments.map(vttCue).join('');
}

/**
 * The segments to print for a transcription: its own, or — when the engine gave none but there is
 * text — one segment spanning the whole audio.
 */
export function segmentsOrWhole(t: Pick<Transcription, 'text' | 'segments' | 'durationSec'>): Segment[] {
  if (t.segments.length > 0) return t.segments;
  const text = t.text.trim();
  if (!text) return [];
  return [{ start: 0, end: Math.max(0, t.durationSec || 0), text }];
}

/** Segment statistics of OpenAI's verbose_json; the engine gives `avg_logprob` and (VAD) `no_speech_prob`. */
export interface SegmentStats {
  avg_logprob?: number;
  compression_ratio?: number;
  no_speech_prob?: number;
}

export interface VerboseJsonExtras {
  /** Language to report. GLM-ASR does not detect the language; default 'unknown'. */
  language?: string;
  /** Sampling temperature to report per segment; default 0 (greedy / beam search). */
  temperature?: number;
}

export interface VerboseJsonSegment extends SegmentStats {
  id: number;
  /** Where the segment starts, in 10 ms frames (the log-mel hop). */
  seek: number;
  start: number;
  end: number;
  text: string;
  /** Token ids of the segment (all the tokens when the engine gave no segments). */
  tokens: number[];
  temperature: number;
}

export interface VerboseJson {
  task: 'transcribe';
  language: string;
  /** Seconds of input audio. */
  duration: number;
  text: string;
  segments: VerboseJsonSegment[];
  usage: { type: 'duration'; seconds: number };
}

/** One verbose_json segment: times, text, tokens and the statistics the segment carries. */
export function verboseSegment(seg: Segment, id: number, temperature = 0): VerboseJsonSegment {
  const [start, end] = cueTimes(seg);
  const out: VerboseJsonSegment = {
    id,
    seek: Math.floor(start * 100),
    start: roundTime(start),
    end: roundTime(end),
    text: seg.text,
    tokens: seg.tokens ? [...seg.tokens] : [],
    temperature,
  };
  if (seg.avgLogprob !== undefined && Number.isFinite(seg.avgLogprob)) out.avg_logprob = seg.avgLogprob;
  if (seg.noSpeechProb !== undefined) out.no_speech_prob = seg.noSpeechProb;
  return out;
}

/** The shape of OpenAI's `verbose_json` transcription response, one segment per engine segment. */
export function toVerboseJson(t: Transcription, extras: VerboseJsonExtras = {}): VerboseJson {
  const segs = t.segments.length ? t.segments : segmentsOrWhole(t).map((s) => ({ ...s, tokens: t.tokens }));
  const duration = roundTime(Math.max(0, t.durationSec || 0));
  return {
    task: 'transcribe',
    language: extras.language ?? 'unknown',
    duration,
    text: t.text,
    segments: segs.map((seg, id) => verboseSegment(seg, id, extras.temperature ?? 0)),
    usage: { type: 'duration', seconds: Math.ceil(duration) },
  };
}

/** Times to the millisecond, so JSON does not carry float noise like 1.2000000000000002. */
function roundTime(sec: number): number {
  return Math.round(sec * 1000) / 1000;
}

/** The response body for a format, as a string (json formats are serialised). */
export function formatTranscription(t: Transcription, format: ResponseFormat, extras: VerboseJsonExtras = {}): string {
  switch (format) {
    case 'json':
      return JSON.stringify({ text: t.text });
    case 'text':
      return t.text;
    case 'srt':
      return toSrt(segmentsOrWhole(t));
    case 'vtt':
      return toVtt(segmentsOrWhole(t));
    case 'verbose_json':
      return JSON.stringify(toVerboseJson(t, extras));
  }
}
