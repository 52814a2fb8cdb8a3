/**
 * GET /v1/realtime with the `openai` package's Realtime WebSocket client (fake transcriber, scripted live
 * sessions): session set-up in both shapes, manual commits, server VAD turns at real-time pace, the 16 kHz
 * extension, clear, and the append-only delta mapping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendOnlyDelta } from '../../src/server/realtime-config';
import { fakeFinalText } from './fake-transcriber';
import { startTestServer, type TestServer } from './helpers';
import {
  bytesOf, concat, EventLog, openaiRealtime, rawRealtime, opened, streamPcm, tone, type Event,
} from './realtime-helpers';

describe('realtime transcription (openai client)', () => {
  let srv: TestServer;

  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv.close());

  /** An openai-client session whose events are logged. */
  async function session() {
    const rt = openaiRealtime(srv.base);
    const log = new EventLog(rt.socket);
    rt.on('error', () => {}); // error events are asserted through the log
    await opened(rt.socket);
    await log.next('session.created');
    return { rt, log };
  }

  it('manual turns: session.update, appends, commit → committed, deltas, completed (the exact audio)', async () => {
    const { rt, log } = await session();
    const created = log.of('session.created')[0].session as Record<string, unknown>;
    expect(created).toMatchObject({ type: 'transcription', audio: { input: {
      format: { type: 'audio/pcm', rate: 24000 }, turn_detection: { type: 'server_vad', threshold: 0.5 } } } });

    rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: {
      format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'glm-asr-nano-2512', language: 'en' },
      turn_detection: null } } } });
    const updated = await log.next('session.updated');
    expect(updated.session).toMatchObject({ audio: { input: { turn_detection: null,
      transcription: { model: 'glm-asr-nano-2512', language: 'en' } } } });

    const pcm = tone(1.5, 24000);
    await streamPcm((e) => rt.send(e), pcm, 24000, 40, false);
    rt.send({ type: 'input_audio_buffer.commit' });
    const committed = await log.next('input_audio_buffer.committed');
    const done = await log.next('conversation.item.input_audio_transcription.completed');
    expect(committed.previous_item_id).toBeNull();
    expect(done.item_id).toBe(committed.item_id);
    expect(done.transcript).toBe(fakeFinalText(0, bytesOf(pcm), 24000));
    const deltas = log.of('conversation.item.input_audio_transcription.delta');
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.map((d) => d.delta).join('')).toBe(done.transcript);
    expect(deltas.every((d) => d.item_id === done.item_id && d.content_index === 0)).toBe(true);
    expect(log.of('error')).toEqual([]);
    const live = srv.fake.liveCalls.at(-1)!.options;
    expect(live).toMatchObject({ sampleRate: 24000, turnDetection: null });
    rt.close();
  });

  it('server VAD at real-time pace: two turns, speech events with item ids, a chain of committed items', async () => {
    const { rt, log } = await session();
    rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: {
      turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 100, silence_duration_ms: 300 } } } } });
    await log.next('session.updated');
    const rate = 24000;
    const pcm = concat(tone(0.2, rate, 0), tone(0.5, rate), tone(0.4, rate, 0), tone(0.5, rate), tone(0.4, rate, 0));
    await streamPcm((e) => rt.send(e), pcm, rate, 20, true);
    const second = await log.next('conversation.item.input_audio_transcription.completed', 2);
    const [s1, s2] = log.of('input_audio_buffer.speech_started');
    const [e1, e2] = log.of('input_audio_buffer.speech_stopped');
    const [c1, c2] = log.of('input_audio_buffer.committed');
    expect(s1.audio_start_ms).toBe(100); // speech at 200 ms, 100 ms of prefix padding
    expect(e1.audio_end_ms).toBe(1000); // speech ends at 700 ms, plus 300 ms of silence
    expect(s2.audio_start_ms).toBe(1000); // never before the previous utterance's end
    expect(e2.audio_end_ms).toBe(1900);
    expect([s1.item_id, e1.item_id, c1.item_id]).toEqual([c1.item_id, c1.item_id, c1.item_id]);
    expect([s2.item_id, e2.item_id]).toEqual([c2.item_id, c2.item_id]);
    expect(c1.item_id).not.toBe(c2.item_id);
    expect(c1.previous_item_id).toBeNull();
    expect(c2.previous_item_id).toBe(c1.item_id);
    expect(second.item_id).toBe(c2.item_id);
    // The first utterance is the audio up to its end (1000 ms), exactly.
    const first = log.of('conversation.item.input_audio_transcription.completed')[0];
    expect(first.transcript).toBe(fakeFinalText(0, bytesOf(pcm.subarray(0, rate)), rate));
    // Per utterance: speech_started → speech_stopped → committed → completed.
    const order = log.types().filter((t) => t.startsWith('input_audio_buffer.') || t.endsWith('.completed'));
    expect(order).toEqual([
      'input_audio_buffer.speech_started', 'input_audio_buffer.speech_stopped', 'input_audio_buffer.committed',
      'conversation.item.input_audio_transcription.completed',
      'input_audio_buffer.speech_started', 'input_audio_buffer.speech_stopped', 'input_audio_buffer.committed',
      'conversation.item.input_audio_transcription.completed',
    ]);
    rt.close();
  });

  it('16 kHz input (format rate 16000, an extension) reaches the engine at 16 kHz', async () => {
    const { rt, log } = await session();
    rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: {
      // The openai package types the rate as 24000 only; 16000 is this server's extension.
      format: { type: 'audio/pcm', rate: 16000 as 24000 }, turn_detection: null } } } });
    const updated = await log.next('session.updated');
    expect(updated.session).toMatchObject({ audio: { input: { format: { rate: 16000 } } } });
    const pcm = tone(0.8, 16000);
    await streamPcm((e) => rt.send(e), pcm, 16000, 100, false);
    rt.send({ type: 'input_audio_buffer.commit' });
    const done = await log.next('conversation.item.input_audio_transcription.completed');
    expect(done.transcript).toBe(fakeFinalText(0, bytesOf(pcm), 16000));
    expect(srv.fake.liveCalls.at(-1)!.options.sampleRate).toBe(16000);
    rt.close();
  });

  it('the older transcription_session.update shape, clear, and a commit with nothing to commit', async () => {
    const ws = rawRealtime(srv.base);
    const log = new EventLog(ws);
    await opened(ws);
    const send = (e: object) => ws.send(JSON.stringify(e));
    send({ type: 'transcription_session.update', session: { input_audio_format: 'pcm16',
      input_audio_transcription: { model: 'whisper-1', prompt: 'numbers' }, turn_detection: null } });
    const updated = await log.next('transcription_session.updated');
    expect(updated.session).toMatchObject({ input_audio_format: 'pcm16', turn_detection: null,
      input_audio_transcription: { model: 'whisper-1', prompt: 'numbers' } });
    await streamPcm(send, tone(0.5, 24000), 24000, 50, false);
    send({ type: 'input_audio_buffer.clear' });
    await log.next('input_audio_buffer.cleared');
    send({ type: 'input_audio_buffer.commit', event_id: 'c1' });
    const err = await log.next('error');
    expect(err.error).toMatchObject({ type: 'invalid_request_error', code: 'input_audio_buffer_commit_empty',
      event_id: 'c1' });
    // The session goes on: audio after the clear is its own item.
    const pcm = tone(0.3, 24000, 0.3, 9);
    await streamPcm(send, pcm, 24000, 50, false);
    send({ type: 'input_audio_buffer.commit' });
    const done = await log.next('conversation.item.input_audio_transcription.completed');
    expect(done.transcript).toBe(fakeFinalText(0, bytesOf(pcm), 24000));
    ws.close();
  });

  it('every server event has an event_id; errors have OpenAI\'s shape', async () => {
    const { rt, log } = await session();
    rt.send({ type: 'response.create' } as never);
    const err = await log.next('error');
    expect(err).toMatchObject({ type: 'error', event_id: expect.stringMatching(/^event_/),
      error: { type: 'invalid_request_error', code: 'invalid_value', param: 'type', event_id: null,
        message: expect.stringContaining("'response.create'") } });
    expect(log.events.every((e: Event) => typeof e.event_id === 'string')).toBe(true);
    rt.close();
  });
});

describe('appendOnlyDelta', () => {
  it('sends settled words of growing hypotheses, all of a final, nothing that contradicts what was sent', () => {
    expect(appendOnlyDelta('', 'hel', false)).toBe('he'); // no space yet: all but the last character
    expect(appendOnlyDelta('he', 'hello wor', false)).toBe('llo ');
    expect(appendOnlyDelta('hello ', 'hello world', false)).toBe('');
    expect(appendOnlyDelta('hello ', 'hello world again', false)).toBe('world ');
    expect(appendOnlyDelta('hello world ', 'hello world again.', true)).toBe('again.');
    // A revision of sent words: nothing more for the item (completed.transcript is authoritative).
    expect(appendOnlyDelta('hello world ', 'yellow world and more words', false)).toBe('');
    expect(appendOnlyDelta('hello world ', 'yellow world.', true)).toBe('');
    // Characters outside the BMP are never split.
    expect(appendOnlyDelta('', '你好😀', false)).toBe('你好');
  });
});
