import { describe, expect, it } from 'vitest';
import { formatTimestamp, formatTranscription, segmentsOrWhole, toSrt, toVerboseJson, toVtt } from '../src/formats';
import type { Transcription } from '../src/server/transcriber';

const t: Transcription = {
  text: 'Hello world. Second line',
  tokens: [1, 2, 3],
  segments: [
    { start: 0, end: 1.25, text: ' Hello world.' },
    { start: 1.25, end: 3723.4567, text: 'Second <b>line</b> & --> more' },
  ],
  durationSec: 3723.5,
  timings: { decodeAudio: 0, vad: 0, mel: 0, encode: 0, generate: 0, total: 0 },
};

describe('formats', () => {
  it('formatTimestamp rounds to ms before splitting and clamps bad input', () => {
    expect(formatTimestamp(0, ',')).toBe('00:00:00,000');
    expect(formatTimestamp(59.9996, '.')).toBe('00:01:00.000');
    expect(formatTimestamp(3723.4567, ',')).toBe('01:02:03,457');
    expect(formatTimestamp(-3, '.')).toBe('00:00:00.000');
    expect(formatTimestamp(Number.NaN, '.')).toBe('00:00:00.000');
    expect(formatTimestamp(360000, '.')).toBe('100:00:00.000');
  });

  it('toSrt numbers cues, skips empty ones, keeps cue text free of blank lines', () => {
    const srt = toSrt([
      { start: 0, end: 1.25, text: ' Hello world.' },
      { start: 1.3, end: 1.4, text: '   ' },
      { start: 2, end: 1, text: 'line one\n\nline two' },
    ]);
    const cue2 = '2\n00:00:02,000 --> 00:00:02,000\nline one\nline two\n\n';
    expect(srt).toBe(`1\n00:00:00,000 --> 00:00:01,250\nHello world.\n\n${cue2}`);
    expect(toSrt([])).toBe('');
  });

  it('toVtt has the header, dot milliseconds and escaped cue text', () => {
    expect(toVtt(t.segments)).toBe(
      'WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello world.\n\n' +
        '00:00:01.250 --> 01:02:03.457\nSecond &lt;b&gt;line&lt;/b&gt; &amp; --&gt; more\n\n',
    );
    expect(toVtt([])).toBe('WEBVTT\n\n');
  });

  it('segmentsOrWhole falls back to one segment over the whole audio', () => {
    expect(segmentsOrWhole({ text: ' hi ', segments: [], durationSec: 2 })).toEqual([{ start: 0, end: 2, text: 'hi' }]);
    expect(segmentsOrWhole({ text: '', segments: [], durationSec: 2 })).toEqual([]);
  });

  it('toVerboseJson follows the OpenAI shape', () => {
    const stats = { tokens: [7, 8], avgLogprob: -0.2, noSpeechProb: 0.01 };
    const v = toVerboseJson({ ...t, segments: [{ ...t.segments[0], ...stats }, t.segments[1]] }, { language: 'en' });
    const usage = { type: 'duration', seconds: 3724 };
    expect(v).toMatchObject({ task: 'transcribe', language: 'en', duration: 3723.5, text: t.text, usage });
    const first = { id: 0, seek: 0, start: 0, end: 1.25, text: ' Hello world.', tokens: [7, 8], temperature: 0 };
    expect(v.segments[0]).toEqual({ ...first, avg_logprob: -0.2, no_speech_prob: 0.01 });
    expect(v.segments[1]).toMatchObject({ id: 1, seek: 125, end: 3723.457, tokens: [] });
    expect(v.segments[1]).not.toHaveProperty('avg_logprob');
    const single = toVerboseJson({ ...t, segments: [] });
    expect(single.language).toBe('unknown');
    const whole = { id: 0, seek: 0, start: 0, end: 3723.5, text: t.text, tokens: [1, 2, 3], temperature: 0 };
    expect(single.segments).toEqual([whole]);
  });

  it('formatTranscription serialises each format', () => {
    expect(JSON.parse(formatTranscription(t, 'json'))).toEqual({ text: t.text });
    expect(formatTranscription(t, 'text')).toBe(t.text);
    expect(formatTranscription(t, 'srt')).toBe(toSrt(t.segments));
    expect(formatTranscription(t, 'vtt')).toBe(toVtt(t.segments));
    expect(JSON.parse(formatTranscription(t, 'verbose_json')).task).toBe('transcribe');
  });
});
