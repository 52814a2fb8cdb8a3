/**
 * GET /v1/realtime on the real engine: the shipped demo model (models/demo) behind the server, driven by the
 * `openai` package's Realtime client. Two sessions run at once on the one engine; the completed transcripts of the
 * demo clips must be their expected text: manual commits with 16 kHz input sent as fast as the socket takes it, and
 * server VAD turns with 24 kHz input (OpenAI's rate, resampled by the engine) at real-time pace.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getResampler } from '../../src/audio/resample';
import { parseWav } from '../../src/audio/wav';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { testGpu } from '../helpers/gpu';
import { startTestServer, type TestServer } from './helpers';
import { concat, EventLog, openaiRealtime, opened, streamPcm, tone } from './realtime-helpers';
import type { FakeTranscriber } from './fake-transcriber';

const SAMPLES = join(__dirname, '..', '..', 'models', 'demo', 'samples');
const expected: Record<string, string> = JSON.parse(readFileSync(join(SAMPLES, 'expected.json'), 'utf8'));

/** A demo clip as s16 PCM at `rate`. */
function clip(name: string, rate: number): Int16Array {
  const wav = parseWav(readFileSync(join(SAMPLES, name)), name);
  const x = wav.sampleRate === rate ? wav.channels[0] : getResampler(wav.sampleRate, rate).process(wav.channels[0]);
  return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32767))));
}

describe('realtime on the demo model', () => {
  let asr: GlmAsr;
  let srv: TestServer;

  beforeAll(async () => {
    asr = await GlmAsr.load(join(SAMPLES, '..'), { gpu: await testGpu(), precision: 'f32' });
    srv = await startTestServer({ transcriber: asr as unknown as FakeTranscriber });
  });
  afterAll(async () => {
    await srv?.close();
    asr?.dispose();
  });

  async function session(turnDetection: object | null, rate: number) {
    const rt = openaiRealtime(srv.base);
    const log = new EventLog(rt.socket);
    rt.on('error', () => {});
    await opened(rt.socket);
    rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: {
      format: { type: 'audio/pcm', rate: rate as 24000 }, turn_detection: turnDetection as null } } } });
    await log.next('session.updated');
    return { rt, log };
  }

  /** Manual commits, 16 kHz, sent as fast as the socket takes them. */
  async function manualClips(names: string[]) {
    const { rt, log } = await session(null, 16000);
    const transcripts: unknown[] = [];
    for (const [i, name] of names.entries()) {
      await streamPcm((e) => rt.send(e), clip(name, 16000), 16000, 100, false);
      rt.send({ type: 'input_audio_buffer.commit' });
      const done = await log.next('conversation.item.input_audio_transcription.completed', i + 1, 60_000);
      transcripts.push(done.transcript);
    }
    expect(log.of('error')).toEqual([]);
    rt.close();
    return transcripts;
  }

  /** Server VAD, 24 kHz at real-time pace: the clips with a pause after each. */
  async function vadClips(names: string[]) {
    const { rt, log } = await session({ type: 'server_vad', silence_duration_ms: 500 }, 24000);
    const pause = tone(1.2, 24000, 0);
    const pcm = concat(tone(0.3, 24000, 0), ...names.flatMap((n) => [clip(n, 24000), pause]));
    await streamPcm((e) => rt.send(e), pcm, 24000, 40, true);
    await log.next('conversation.item.input_audio_transcription.completed', names.length, 60_000);
    const completed = log.of('conversation.item.input_audio_transcription.completed');
    expect(log.of('input_audio_buffer.speech_started')).toHaveLength(names.length);
    expect(log.of('input_audio_buffer.committed').map((c) => c.item_id)).toEqual(completed.map((c) => c.item_id));
    expect(log.of('error')).toEqual([]);
    // A commit in the pause after the last turn has nothing to commit: OpenAI's error, not silence.
    rt.send({ type: 'input_audio_buffer.commit', event_id: 'late' });
    const err = await log.next('error');
    expect(err.error).toMatchObject({ code: 'input_audio_buffer_commit_empty' });
    rt.close();
    return completed.map((c) => c.transcript);
  }

  it('two sessions at once on the shared engine: each clip\'s completed transcript is its expected text', async () => {
    const manual = ['digits-oh.wav', 'command-hum.wav', 'number-slow-tempo.wav'];
    const vad = ['command-bandpass.wav', 'digits-brown-noise.wav'];
    const [a, b] = await Promise.all([manualClips(manual), vadClips(vad)]);
    expect(a).toEqual(manual.map((n) => expected[n]));
    expect(b).toEqual(vad.map((n) => expected[n]));
  }, 120_000);
});
