/**
 * Who may open GET /v1/realtime when the server has an API key: the key as Bearer (the openai client's way), a
 * client secret from POST /v1/realtime/client_secrets as Bearer or as the browser subprotocol
 * `openai-insecure-api-key.<token>`; anything else is refused with 401 before the upgrade.
 */
import { connect } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from './helpers';
import { base64Of, EventLog, openaiRealtime, opened, rawRealtime, refused, tone } from './realtime-helpers';

const KEY = 'sk-test-realtime-key';

describe('realtime auth', () => {
  let srv: TestServer;
  let client: OpenAI;

  beforeAll(async () => {
    srv = await startTestServer({ apiKey: KEY });
    client = new OpenAI({ apiKey: KEY, baseURL: `${srv.base}/v1`, maxRetries: 0 });
  });
  afterAll(() => srv.close());

  it('the openai client with the API key opens a session', async () => {
    const rt = openaiRealtime(srv.base, KEY);
    const log = new EventLog(rt.socket);
    await opened(rt.socket);
    await log.next('session.created');
    rt.send({ type: 'input_audio_buffer.append', audio: base64Of(tone(0.25, 24000)) });
    await new Promise((r) => setTimeout(r, 100));
    rt.close();
    const line = await waitForLog(srv, (l) => l.path === '/v1/realtime');
    expect(line).toMatchObject({ method: 'GET', auth: 'ok', status: 101, audioSec: 0.25 });
    expect(line.error).toBeUndefined();
  });

  it('no key, a wrong key: 401 before the upgrade, in OpenAI\'s error shape', async () => {
    const missing = await refused(rawRealtime(srv.base));
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({ code: 'missing_api_key' });
    const wrong = await refused(rawRealtime(srv.base, { key: 'sk-wrong' }));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatchObject({ code: 'invalid_api_key' });
    const wrongProtocol = await refused(rawRealtime(srv.base, {
      protocols: ['realtime', 'openai-insecure-api-key.sk-wrong'] }));
    expect(wrongProtocol.status).toBe(401);
  });

  it('a client secret (openai client) opens a browser-style session with its configuration', async () => {
    const secret = await client.realtime.clientSecrets.create({
      expires_after: { anchor: 'created_at', seconds: 60 },
      session: { type: 'transcription', audio: { input: { turn_detection: null,
        transcription: { model: 'glm-asr-nano-2512', language: 'en' } } } },
    });
    expect(secret.value).toMatch(/^ek_/);
    expect(secret.expires_at).toBeGreaterThan(Date.now() / 1000 + 50);
    expect(secret.expires_at).toBeLessThanOrEqual(Date.now() / 1000 + 60);
    expect(secret.session).toMatchObject({ type: 'transcription', audio: { input: { turn_detection: null } } });

    // The browser way: the `realtime` subprotocol plus the token one; the server picks `realtime`.
    const ws = rawRealtime(srv.base, { protocols: ['realtime', `openai-insecure-api-key.${secret.value}`] });
    const log = new EventLog(ws);
    await opened(ws);
    expect(ws.protocol).toBe('realtime');
    const created = await log.next('session.created');
    expect(created.session).toMatchObject({ audio: { input: { turn_detection: null,
      transcription: { language: 'en' } } } });
    ws.close();

    const bearer = rawRealtime(srv.base, { key: secret.value });
    await opened(bearer);
    bearer.close();
    // A client secret is for /v1/realtime only.
    const models = await fetch(`${srv.base}/v1/models`, { headers: { authorization: `Bearer ${secret.value}` } });
    expect(models.status).toBe(401);
  });

  it('client secrets need the API key; bad fields are 400', async () => {
    const noKey = await fetch(`${srv.base}/v1/realtime/client_secrets`, { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noKey.status).toBe(401);
    const post = (body: unknown) => fetch(`${srv.base}/v1/realtime/client_secrets`, { method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: JSON.stringify(body) });
    const short = await post({ expires_after: { anchor: 'created_at', seconds: 5 } });
    expect(short.status).toBe(400);
    expect((await short.json()).error).toMatchObject({ param: 'expires_after.seconds' });
    const realtime = await post({ session: { type: 'realtime' } });
    expect(realtime.status).toBe(400);
    expect((await realtime.json()).error).toMatchObject({ param: 'session.type' });
    const g711 = await post({ session: { type: 'transcription',
      audio: { input: { format: { type: 'audio/pcma' } } } } });
    expect((await g711.json()).error).toMatchObject({ code: 'unsupported_audio_format' });
  });

  it('an expired client secret: 401 expired_client_secret', async () => {
    const secret = await client.realtime.clientSecrets.create({ expires_after: { anchor: 'created_at', seconds: 10 } });
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 11_000);
      const r = await refused(rawRealtime(srv.base, { key: secret.value }));
      expect(r.status).toBe(401);
      expect(r.body.error).toMatchObject({ code: 'expired_client_secret' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('an upgrade request to another route gets its HTTP answer, then its socket is closed', async () => {
    const cases = [
      ['/health', '200 OK'], ['/nope', '404 Not Found'], ['/v1/realtime?intent=conversation', '400 Bad Request'],
    ];
    for (const [path, status] of cases) {
      const socket = connect(Number(new URL(srv.base).port), '127.0.0.1');
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Authorization: Bearer ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
        'Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n');
      let answer = '';
      socket.on('data', (d) => (answer += String(d)));
      const closed = await new Promise((r) => {
        socket.on('close', () => r(true));
        setTimeout(() => r(false), 2000);
      });
      socket.destroy();
      expect(answer.split('\r\n')[0], path).toBe(`HTTP/1.1 ${status}`);
      expect(closed, path).toBe(true);
    }
  });

  it('GET without an upgrade: 426', async () => {
    const res = await fetch(`${srv.base}/v1/realtime?intent=transcription`,
      { headers: { authorization: `Bearer ${KEY}` } });
    expect(res.status).toBe(426);
    expect((await res.json()).error).toMatchObject({ code: 'upgrade_required' });
  });
});

async function waitForLog(srv: TestServer, match: (l: Record<string, unknown>) => boolean) {
  for (let i = 0; i < 200; i++) {
    const line = srv.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find(match);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no such log line in ${srv.logs.join('\n')}`);
}
