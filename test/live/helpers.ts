/**
 * What the live-session tests share: the demo model, speech made of its bundled clips with silence between them,
 * the session's events gathered, their order checked, and the file transcription a final must equal.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { decodeAudio, getResampler } from '../../src/audio';
import type { LiveEvent, LiveOptions, LiveSession } from '../../src/models/glm-asr/live';
import type { GlmAsr, Segment } from '../../src/models/glm-asr/transcriber';

const SAMPLES = join(__dirname, '..', '..', 'models', 'demo', 'samples');
export const RATE = 16000;

/** Clips the VAD finds in a concatenation (number-quiet.wav is too quiet after another clip). */
export const LOUD_CLIPS = ['digits-oh.wav', 'command-hum.wav', 'number-slow-tempo.wav', 'command-bandpass.wav'];

export async function clip(name: string): Promise<Float32Array> {
  return (await decodeAudio(readFileSync(join(SAMPLES, name)), name)).samples;
}

/** `silence` seconds, then each clip followed by `silence` seconds (16 kHz); where each clip lies, in seconds. */
export async function speech(names: string[], silence = 1): Promise<{ samples: Float32Array; spans: number[][] }> {
  const gap = Math.round(silence * RATE);
  const clips = await Promise.all(names.map(clip));
  const samples = new Float32Array(gap + clips.reduce((n, c) => n + c.length + gap, 0));
  const spans: number[][] = [];
  let at = gap;
  for (const c of clips) {
    samples.set(c, at);
    spans.push([at / RATE, (at + c.length) / RATE]);
    at += c.length + gap;
  }
  return { samples, spans };
}

/** The 16 kHz signal as a source at `rate` gives it: resampled, and rounded to 16 bits for 's16'. */
export function atRate(samples16k: Float32Array, rate: number, format: 'f32' | 's16'): Float32Array | Int16Array {
  const x = rate === RATE ? samples16k : getResampler(RATE, rate).process(samples16k);
  if (format === 'f32') return x;
  return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
}

/** What the session sees at the model's rate: the pushed PCM as f32, resampled in one piece. */
export function modelRateView(pcm: Float32Array | Int16Array, rate: number): Float32Array {
  const x = pcm instanceof Int16Array ? Float32Array.from(pcm, (v) => v / 32768) : pcm;
  return rate === RATE ? x : getResampler(rate, RATE).process(x);
}

/** Pushes `pcm` in chunks of `chunkMs`, all at once (faster than real time), then closes; returns the events. */
export async function runAll(asr: GlmAsr, pcm: Float32Array | Int16Array, options: LiveOptions & { chunkMs?: number },
): Promise<{ events: LiveEvent[]; session: LiveSession }> {
  const session = asr.live(options);
  const gathered = gather(session);
  const chunk = Math.round(((options.chunkMs ?? 40) / 1000) * (options.sampleRate ?? RATE));
  for (let i = 0; i < pcm.length; i += chunk) session.push(pcm.subarray(i, i + chunk));
  await session.close();
  return { events: await gathered, session };
}

export async function gather(session: LiveSession): Promise<LiveEvent[]> {
  const events: LiveEvent[] = [];
  for await (const e of session) events.push(e);
  return events;
}

/**
 * Items are numbered in order, each one's events come as speech-started → partials → speech-stopped → committed
 * → final (no speech events without turn detection), and the speech events give the committed span.
 */
export function checkOrder(events: LiveEvent[], turns: boolean): void {
  const perItem = new Map<number, LiveEvent[]>();
  for (const e of events) if (e.type !== 'commit-empty') perItem.set(e.item, [...(perItem.get(e.item) ?? []), e]);
  const items = [...perItem.keys()];
  expect(items).toEqual([...items].sort((a, b) => a - b));
  for (const [item, es] of perItem) {
    const shape = es.map((e) => (e.type === 'partial' ? 'P' : e.type)).join(' ').replace(/( P)+/g, ' P*');
    const want = turns ? /^speech-started( P\*)? speech-stopped committed final$/ : /^(P\* )?committed final$/;
    expect(shape, `item ${item}`).toMatch(want);
    const committed = es.find((e) => e.type === 'committed')!;
    const final = es.find((e) => e.type === 'final')!;
    expect([final.segment.start, final.segment.end]).toEqual([committed.start, committed.end]);
    if (turns) {
      const started = es.find((e) => e.type === 'speech-started')!;
      const stopped = es.find((e) => e.type === 'speech-stopped')!;
      expect(started.audioStartMs / 1000).toBeCloseTo(committed.start, 9);
      expect(stopped.audioEndMs / 1000).toBeCloseTo(committed.end, 9);
    }
  }
}

export function finals(events: LiveEvent[]): Segment[] {
  return events.flatMap((e) => (e.type === 'final' ? [e.segment] : []));
}

/** The file transcription of the final's samples (its times at the model's rate identify them exactly). */
export async function fileSegment(asr: GlmAsr, view: Float32Array, seg: Segment,
  options: { beams?: number; maxNewTokens?: number } = {}): Promise<Segment> {
  const [s, e] = [Math.round(seg.start * RATE), Math.round(seg.end * RATE)];
  expect(s / RATE).toBe(seg.start);
  expect(e / RATE).toBe(seg.end);
  const t = await asr.transcribe({ samples: view.slice(s, e), sampleRate: RATE }, { segmenter: 'fixed', ...options });
  return { ...t.segments[0], start: seg.start, end: seg.end };
}
