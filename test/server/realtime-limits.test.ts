/**
 * The realtime limits: sessions at once, idle timeout, session length, back-pressure when the engine holds too much
 * of a session's audio (a fast client never floods the shared engine; a silent, non-reading client blocks no one),
 * a client that stops reading its events, and a graceful shutdown (pending finals, then close 1001).
 */
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { defaultSessionConfig } from '../../src/server/realtime-config';
import { DEFAULT_REALTIME_LIMITS } from '../../src/server/realtime';
import { RealtimeSession } from '../../src/server/realtime-session';
import { fakeFinalText, FakeTranscriber } from './fake-transcriber';
import { startTestServer, type TestServer } from './helpers';
import { bytesOf, EventLog, opened, rawRealtime, refused, streamPcm, tone } from './realtime-helpers';

async function manualSession(base: string) {
  const ws = rawRealtime(base);
  const log = new EventLog(ws);
  await opened(ws);
  await log.next('session.created');
  const send = (e: unknown) => ws.send(JSON.stringify(e));
  send({ type: 'session.update', session: { type: 'transcription', audio: { input: { turn_detection: null } } } });
  await log.next('session.updated');
  return { ws, log, send };
}

describe('realtime limits', () => {
  let srv: TestServer;

  beforeAll(async () => {
    srv = await startTestServer({ realtime: { maxSessions: 3, maxBufferedSeconds: 0.5 } });
  });
  afterAll(() => srv.close());

  it('maxSessions: one more is refused with 503 before the upgrade; a freed slot is usable again', async () => {
    const open = await Promise.all([0, 1, 2].map(() => manualSession(srv.base)));
    const r = await refused(rawRealtime(srv.base));
    expect(r.status).toBe(503);
    expect(r.body.error).toMatchObject({ code: 'too_many_sessions' });
    open[0].ws.close();
    await open[0].log.closedWith();
    await new Promise((res) => setTimeout(res, 50));
    const again = await manualSession(srv.base);
    for (const s of [...open.slice(1), again]) s.ws.close();
    await Promise.all([...open.slice(1), again].map((s) => s.log.closedWith()));
  });

  it('back-pressure: a fast client is held to maxBufferedSeconds of backlog; a silent one blocks no one', async () => {
    srv.fake.liveSpeed = 4; // the engine handles 4 s of audio per second
    try {
      const silent = rawRealtime(srv.base);
      await opened(silent);
      silent.pause(); // connected, never reads, never sends
      const fast = await manualSession(srv.base);
      const paced = await manualSession(srv.base);
      const fastPcm = tone(3, 24000, 0.3, 3);
      const pacedPcm = tone(0.6, 24000, 0.3, 4);
      await Promise.all([
        streamPcm(fast.send, fastPcm, 24000, 100, false),
        streamPcm(paced.send, pacedPcm, 24000, 50, true),
      ]);
      paced.send({ type: 'input_audio_buffer.commit' });
      fast.send({ type: 'input_audio_buffer.commit' });
      const pacedDone = await paced.log.next('conversation.item.input_audio_transcription.completed');
      expect(pacedDone.transcript).toBe(fakeFinalText(0, bytesOf(pacedPcm), 24000));
      const fastDone = await fast.log.next('conversation.item.input_audio_transcription.completed');
      expect(fastDone.transcript).toBe(fakeFinalText(0, bytesOf(fastPcm), 24000)); // nothing lost
      const peaks = srv.fake.liveCalls.slice(-6).map((c) => c.session.peakBacklogSeconds);
      // 0.5 s allowed, plus the one 100 ms append that crossed it; without back-pressure the peak is near 3 s.
      expect(Math.max(...peaks)).toBeGreaterThan(0.4);
      expect(Math.max(...peaks)).toBeLessThanOrEqual(0.6 + 1e-9);
      for (const s of [fast, paced]) s.ws.close();
      silent.terminate();
    } finally {
      srv.fake.liveSpeed = Infinity;
    }
  });
});

describe('realtime timeouts and shutdown', () => {
  it('idle timeout: an error event, then close 1008', async () => {
    const srv = await startTestServer({ realtime: { idleTimeoutSeconds: 0.3 } });
    try {
      const s = await manualSession(srv.base);
      const err = await s.log.next('error');
      expect(err.error).toMatchObject({ code: 'idle_timeout' });
      expect(await s.log.closedWith()).toEqual({ code: 1008, reason: 'idle timeout' });
    } finally {
      await srv.close();
    }
  });

  it('session length: an error event, the pending utterance\'s final, then close 1008', async () => {
    const srv = await startTestServer({ realtime: { maxSessionSeconds: 0.8 } });
    try {
      const s = await manualSession(srv.base);
      const pcm = tone(0.3, 24000);
      await streamPcm(s.send, pcm, 24000, 100, false);
      expect(await s.log.closedWith()).toEqual({ code: 1008, reason: 'session expired' });
      const types = s.log.types().filter((t) => !t.endsWith('.delta'));
      expect(types.slice(-3)).toEqual(['error', 'input_audio_buffer.committed',
        'conversation.item.input_audio_transcription.completed']);
      expect(s.log.of('error')[0].error).toMatchObject({ code: 'session_expired' });
      const done = s.log.of('conversation.item.input_audio_transcription.completed')[0];
      expect(done.transcript).toBe(fakeFinalText(0, bytesOf(pcm), 24000));
    } finally {
      await srv.close();
    }
  });

  it('graceful shutdown: the pending final is sent, then close 1001', async () => {
    const srv = await startTestServer();
    const s = await manualSession(srv.base);
    const pcm = tone(0.4, 24000);
    await streamPcm(s.send, pcm, 24000, 100, false);
    await new Promise((r) => setTimeout(r, 50));
    await srv.close();
    expect(await s.log.closedWith()).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(s.log.of('error')[0].error).toMatchObject({ type: 'server_error', code: 'server_shutting_down' });
    const done = s.log.of('conversation.item.input_audio_transcription.completed')[0];
    expect(done.transcript).toBe(fakeFinalText(0, bytesOf(pcm), 24000));
  });

  it('options: bad limits are refused at start; false removes the endpoint; no live() answers 501', async () => {
    await expect(startTestServer({ realtime: { maxSessions: 0 } })).rejects.toThrow(/realtime\.maxSessions/);
    await expect(startTestServer({ realtime: { idleTimeoutSeconds: 3e6 } })).rejects.toThrow(/at most/);
    const off = await startTestServer({ realtime: false });
    try {
      expect((await refused(rawRealtime(off.base))).status).toBe(404);
    } finally {
      await off.close();
    }
    const noLive = new FakeTranscriber();
    Object.defineProperty(noLive, 'live', { value: undefined });
    const queued = await startTestServer({ transcriber: noLive });
    try {
      const r = await refused(rawRealtime(queued.base));
      expect(r.status).toBe(501);
      expect(r.body.error).toMatchObject({ code: 'realtime_unavailable' });
    } finally {
      await queued.close();
    }
  });

  it('an engine failure: a server_error event without the details, close 1011, the details in the log', async () => {
    const fake = new FakeTranscriber();
    const live = fake.live.bind(fake);
    fake.live = (o) => Object.assign(live(o), {
      async *[Symbol.asyncIterator]() {
        throw new Error('device lost at /secret/path');
      },
    });
    const srv = await startTestServer({ transcriber: fake });
    try {
      const ws = rawRealtime(srv.base);
      const log = new EventLog(ws);
      expect(await log.closedWith()).toEqual({ code: 1011, reason: 'engine error' });
      const err = log.of('error')[0].error as { type: string; code: string; message: string };
      expect(err).toMatchObject({ type: 'server_error', code: 'engine_error' });
      expect(err.message).not.toContain('secret');
      await new Promise((r) => setTimeout(r, 50));
      const line = srv.logs.map((l) => JSON.parse(l)).find((l) => l.path === '/v1/realtime');
      expect(line.error).toBe('engine_error: device lost at /secret/path');
    } finally {
      await srv.close();
    }
  });

  it('a client that does not read its events is dropped once maxUnsentBytes wait for it', () => {
    // A socket stand-in whose send buffer is already over the limit.
    const socket = Object.assign(new EventEmitter(), {
      OPEN: 1, readyState: 1, bufferedAmount: DEFAULT_REALTIME_LIMITS.maxUnsentBytes + 1, isPaused: false,
      sent: 0, terminated: false,
      send() {
        this.sent++;
      },
      close() {},
      terminate() {
        this.terminated = true;
      },
    });
    const fake = new FakeTranscriber();
    const log: { audioSec: number | null; error?: string } = { audioSec: null };
    let ended = false;
    new RealtimeSession({
      socket: socket as unknown as WebSocket, openLive: (o) => fake.live(o), config: defaultSessionConfig('m'),
      limits: DEFAULT_REALTIME_LIMITS, minAudioSeconds: 0.06, log, onEnd: () => (ended = true),
    });
    expect(socket.terminated).toBe(true);
    expect(socket.sent).toBe(0);
    expect(ended).toBe(true);
    expect(log.error).toBe('client_not_reading');
  });
});
