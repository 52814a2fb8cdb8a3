/**
 * Bad input on GET /v1/realtime, sent with raw `ws` while a second, well-behaved session runs beside it: a mistake
 * in an event gets an `error` event and the session goes on; audio the server cannot read gets an `error` event
 * and a close with a WebSocket code and reason. The other session's transcript is never affected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { fakeFinalText } from './fake-transcriber';
import { startTestServer, type TestServer } from './helpers';
import { base64Of, bytesOf, EventLog, opened, rawRealtime, streamPcm, tone } from './realtime-helpers';

const MAX_APPEND = 48_000;

describe('realtime bad input', () => {
  let srv: TestServer;

  beforeAll(async () => {
    srv = await startTestServer({ realtime: { maxAppendBytes: MAX_APPEND } });
  });
  afterAll(() => srv.close());

  async function open(): Promise<{ ws: WebSocket; log: EventLog; send: (e: unknown) => void }> {
    const ws = rawRealtime(srv.base);
    const log = new EventLog(ws);
    await opened(ws);
    await log.next('session.created');
    const send = (e: unknown) => ws.send(typeof e === 'string' ? e : JSON.stringify(e));
    send({ type: 'session.update', session: { type: 'transcription', audio: { input: { turn_detection: null } } } });
    await log.next('session.updated');
    return { ws, log, send };
  }

  /** A good session's whole exchange, started before `bad` runs and checked after it. */
  async function besideAGoodSession(bad: () => Promise<void>): Promise<void> {
    const good = await open();
    const pcm = tone(0.4, 24000, 0.3, 5);
    const streaming = streamPcm(good.send, pcm, 24000, 50, true);
    await bad();
    await streaming;
    good.send({ type: 'input_audio_buffer.commit' });
    const done = await good.log.next('conversation.item.input_audio_transcription.completed');
    expect(done.transcript).toBe(fakeFinalText(0, bytesOf(pcm), 24000));
    expect(good.log.of('error')).toEqual([]);
    expect(good.log.closed).toBeNull();
    good.ws.close();
  }

  const recoverable: [string, unknown, string, string | null][] = [
    ['not JSON', '{"type": "input_audio_buffer.append", ', 'invalid_json', null],
    ['not an object', '[1, 2]', 'invalid_event', null],
    ['an unknown event type', { type: 'input_audio_buffer.nope' }, 'invalid_value', 'type'],
    ['no type', { audio: 'AAAA' }, 'invalid_value', 'type'],
    ['a realtime (conversation) session', { type: 'session.update', session: { type: 'realtime' } },
      'unsupported_value', 'session.type'],
    ['a threshold above 1', { type: 'session.update', session: { type: 'transcription', audio: { input: {
      turn_detection: { type: 'server_vad', threshold: 2 } } } } }, 'invalid_value',
    'session.audio.input.turn_detection.threshold'],
    ['semantic_vad', { type: 'session.update', session: { type: 'transcription', audio: { input: {
      turn_detection: { type: 'semantic_vad' } } } } }, 'unsupported_value', 'session.audio.input.turn_detection.type'],
    ['a bad language', { type: 'transcription_session.update', session: {
      input_audio_transcription: { language: 'en; rm -rf' } } }, 'invalid_value',
    'session.input_audio_transcription.language'],
    ['audio that is not a string', { type: 'input_audio_buffer.append', audio: 12 }, 'invalid_value', 'audio'],
    ['empty audio', { type: 'input_audio_buffer.append', audio: '' }, 'invalid_value', 'audio'],
  ];

  for (const [what, event, code, param] of recoverable) {
    it(`${what}: an error event, and the session goes on`, async () => {
      await besideAGoodSession(async () => {
        const bad = await open();
        bad.send(typeof event === 'string' ? event : { ...(event as object), event_id: 'evt_bad' });
        const err = await bad.log.next('error');
        expect(err.error).toMatchObject({ type: 'invalid_request_error', code, param });
        if (typeof event !== 'string') expect((err.error as { event_id: unknown }).event_id).toBe('evt_bad');
        // Still configured as before (manual turns) and still transcribing.
        const pcm = tone(0.3, 24000, 0.3, 7);
        await streamPcm(bad.send, pcm, 24000, 100, false);
        bad.send({ type: 'input_audio_buffer.commit' });
        const done = await bad.log.next('conversation.item.input_audio_transcription.completed');
        expect(done.transcript).toBe(fakeFinalText(0, bytesOf(pcm), 24000));
        expect(bad.log.closed).toBeNull();
        bad.ws.close();
      });
    });
  }

  const fatal: [string, (ws: WebSocket) => void, string, number][] = [
    ['a binary frame', (ws) => ws.send(bytesOf(tone(0.1, 24000))), 'binary_frame', 1003],
    ['garbage base64', (ws) => ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: 'AAA*AAAA' })),
      'invalid_audio', 1007],
    ['base64 of an odd byte count', (ws) => ws.send(JSON.stringify({ type: 'input_audio_buffer.append',
      audio: Buffer.from([1, 2, 3]).toString('base64') })), 'invalid_audio', 1007],
    ['an append over maxAppendBytes', (ws) => ws.send(JSON.stringify({ type: 'input_audio_buffer.append',
      audio: base64Of(tone(1.2, 24000)) })), 'audio_too_large', 1009],
    ['G.711 μ-law (session.update)', (ws) => ws.send(JSON.stringify({ type: 'session.update', session: {
      type: 'transcription', audio: { input: { format: { type: 'audio/pcmu' } } } } })),
    'unsupported_audio_format', 1003],
    ['g711_alaw (transcription_session.update)', (ws) => ws.send(JSON.stringify({
      type: 'transcription_session.update', session: { input_audio_format: 'g711_alaw' } })),
    'unsupported_audio_format', 1003],
    ['an unsupported rate', (ws) => ws.send(JSON.stringify({ type: 'session.update', session: {
      type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 44100 } } } } })),
    'unsupported_audio_format', 1003],
  ];

  for (const [what, sendBad, code, closeCode] of fatal) {
    it(`${what}: an error event, then close ${closeCode}`, async () => {
      await besideAGoodSession(async () => {
        const bad = await open();
        const lives = srv.fake.liveCalls.length;
        sendBad(bad.ws);
        // Sent before the client can know: ignored, and it opens no engine session on a closing socket.
        bad.ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: base64Of(tone(0.1, 24000)) }));
        const err = await bad.log.next('error');
        expect(err.error).toMatchObject({ type: 'invalid_request_error', code });
        expect(String((err.error as { message: unknown }).message).length).toBeGreaterThan(20);
        const closed = await bad.log.closedWith();
        expect(closed.code).toBe(closeCode);
        expect(closed.reason).toBe(code.replace(/_/g, ' '));
        expect(srv.fake.liveCalls.length).toBe(lives);
        expect(bad.log.of('error')).toHaveLength(1);
      });
    });
  }

  it('a frame over the WebSocket payload limit is closed by ws with 1009', async () => {
    await besideAGoodSession(async () => {
      const bad = await open();
      bad.ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: 'A'.repeat(4 * MAX_APPEND) }));
      expect((await bad.log.closedWith()).code).toBe(1009);
    });
  });
});
