/**
 * The OpenAI-compatible API over real HTTP on 127.0.0.1, driven by the official `openai` client
 * where it can be, and by fetch for the malformed requests the client cannot send.
 */
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeText } from './fake-transcriber';
import { makeWav, postAudio, startTestServer, type TestServer } from './helpers';

const KEY = 'sk-test-4f1c9a0e7b2d46e8a1c3';
const MODEL = 'glm-asr-nano-2512';

describe('server API (fake transcriber)', () => {
  let srv: TestServer;
  let client: OpenAI;
  const wav = makeWav(1.5, 1);

  beforeAll(async () => {
    srv = await startTestServer({ apiKey: KEY, maxUploadBytes: 200_000, maxAudioSeconds: 5 });
    client = new OpenAI({ apiKey: KEY, baseURL: `${srv.base}/v1`, maxRetries: 0, timeout: 10_000 });
  });
  afterAll(() => srv.close());

  it('json (default): { text } from the openai client', async () => {
    const res = await client.audio.transcriptions.create({ file: await toFile(wav, 'a.wav'), model: MODEL });
    expect(res.text).toBe(fakeText(wav));
    expect(Object.keys(res)).toEqual(['text']);
  });

  it('accepts any model name and ignores language/prompt/temperature/timestamp_granularities', async () => {
    const res = await client.audio.transcriptions.create({
      file: await toFile(wav, 'b.wav'),
      model: 'whisper-1',
      language: 'en',
      prompt: 'names: Zhipu',
      temperature: 0.2,
      response_format: 'verbose_json',
      timestamp_granularities: ['segment'],
    });
    expect(res.text).toBe(fakeText(wav));
  });

  it('text', async () => {
    const file = await toFile(wav, 'a.wav');
    const res = await client.audio.transcriptions.create({ file, model: MODEL, response_format: 'text' });
    expect(res).toBe(fakeText(wav));
  });

  it('srt', async () => {
    const file = await toFile(wav, 'a.wav');
    const res = await client.audio.transcriptions.create({ file, model: MODEL, response_format: 'srt' });
    const audio = fakeText(wav).slice(fakeText(wav).indexOf('Audio'));
    const cue1 = '1\n00:00:00,000 --> 00:00:00,750\nHello from the fake engine.\n\n';
    expect(res).toBe(`${cue1}2\n00:00:00,750 --> 00:00:01,500\n${audio}\n\n`);
  });

  it('vtt', async () => {
    const file = await toFile(wav, 'a.wav');
    const res = await client.audio.transcriptions.create({ file, model: MODEL, response_format: 'vtt' });
    expect(typeof res).toBe('string');
    const s = res as unknown as string;
    const head = 'WEBVTT\n\n00:00:00.000 --> 00:00:00.750\nHello from the fake engine.\n\n' +
      '00:00:00.750 --> 00:00:01.500\n';
    expect(s.startsWith(head)).toBe(true);
  });

  it('verbose_json has the OpenAI shape', async () => {
    const file = await toFile(wav, 'a.wav');
    const res = await client.audio.transcriptions.create({ file, model: MODEL, response_format: 'verbose_json' });
    expect(res.text).toBe(fakeText(wav));
    expect(res.duration).toBeCloseTo(1.5, 6);
    expect(res.language).toBe('unknown');
    expect((res as unknown as { task: string }).task).toBe('transcribe');
    expect(res.segments).toHaveLength(2);
    const [s0, s1] = res.segments!;
    expect(s0).toMatchObject({ id: 0, seek: 0, start: 0, end: 0.75, text: 'Hello from the fake engine.' });
    expect(s0.temperature).toBe(0);
    expect(s1).toMatchObject({ id: 1, seek: 75, start: 0.75, end: 1.5 });
    expect(Array.isArray(s0.tokens)).toBe(true);
  });

  it('passes beams, max_new_tokens and max_chunk_seconds through', async () => {
    const before = srv.fake.calls.length;
    const fields = { model: MODEL, beams: '4', max_new_tokens: '77', max_chunk_seconds: '12.5' };
    const res = await postAudio(srv.base, wav, fields, { key: KEY });
    expect(res.status).toBe(200);
    expect(srv.fake.calls[before]).toMatchObject({ beams: 4, maxNewTokens: 77, maxChunkSeconds: 12.5 });
  });

  it('wrong key → 401, the client throws AuthenticationError', async () => {
    const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${srv.base}/v1`, maxRetries: 0 });
    const file = await toFile(wav, 'a.wav');
    const err = await bad.audio.transcriptions.create({ file, model: MODEL }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
  });

  it('missing key → 401 with an OpenAI-style body', async () => {
    const res = await postAudio(srv.base, wav);
    expect(res.status).toBe(401);
    const body = await res.json();
    const error = { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'missing_api_key' };
    expect(body).toEqual({ error });
  });

  it('missing file → 400', async () => {
    const res = await postAudio(srv.base, null, { model: MODEL }, { key: KEY });
    expect(res.status).toBe(400);
    const error = { param: 'file', code: 'missing_file', type: 'invalid_request_error' };
    expect((await res.json()).error).toMatchObject(error);
  });

  it('bad fields → 400 naming the field', async () => {
    for (const [fields, param] of [
      [{ response_format: 'xml' }, 'response_format'],
      [{ beams: 'many' }, 'beams'],
      [{ beams: '0' }, 'beams'],
      [{ max_new_tokens: '999999' }, 'max_new_tokens'],
      [{ temperature: 'hot' }, 'temperature'],
      [{ stream: 'maybe' }, 'stream'],
      [{ segmenter: 'silero' }, 'segmenter'],
      [{ max_chunk_seconds: '1' }, 'max_chunk_seconds'],
      [{ max_chunk_seconds: '31' }, 'max_chunk_seconds'],
      [{ max_chunk_seconds: '1e1' }, 'max_chunk_seconds'],
      [{ 'timestamp_granularities[]': 'word' }, 'timestamp_granularities[]'],
    ] as const) {
      const res = await postAudio(srv.base, wav, { model: MODEL, ...fields }, { key: KEY });
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect((await res.json()).error.param).toBe(param);
    }
  });

  it('a second file, or a file under another name → 400', async () => {
    const form = new FormData();
    form.append('file', new Blob([wav as Uint8Array<ArrayBuffer>]), 'a.wav');
    form.append('file', new Blob([wav as Uint8Array<ArrayBuffer>]), 'b.wav');
    const headers = { authorization: `Bearer ${KEY}` };
    let res = await fetch(`${srv.base}/v1/audio/transcriptions`, { method: 'POST', body: form, headers });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('too_many_files');

    const form2 = new FormData();
    form2.append('audio', new Blob([wav as Uint8Array<ArrayBuffer>]), 'a.wav');
    res = await fetch(`${srv.base}/v1/audio/transcriptions`, { method: 'POST', body: form2, headers });
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe('audio');
  });

  it('not multipart → 415 JSON', async () => {
    const res = await fetch(`${srv.base}/v1/audio/transcriptions`, {
      method: 'POST',
      body: JSON.stringify({ file: 'x' }),
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    });
    expect(res.status).toBe(415);
    expect((await res.json()).error.code).toBe('unsupported_media_type');
    const raw = await fetch(`${srv.base}/v1/audio/transcriptions`, {
      method: 'POST',
      body: wav as Uint8Array<ArrayBuffer>,
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'audio/wav' },
    });
    expect(raw.status).toBe(415);
    expect((await raw.json()).error).toBeDefined();
  });

  it('corrupt audio → 400 with the decoder message; the client throws BadRequestError', async () => {
    const junk = new TextEncoder().encode('this is not audio at all');
    const file = await toFile(junk, 'junk.wav');
    const err = await client.audio.transcriptions.create({ file, model: MODEL }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid_audio');
    expect(e.message).toContain('junk.wav: unrecognised audio format');
  });

  it('upload over maxUploadBytes → 413 JSON', async () => {
    const big = makeWav(7, 2); // 224 kB > 200 kB
    const res = await postAudio(srv.base, big, { model: MODEL }, { key: KEY });
    expect(res.status).toBe(413);
    expect((await res.json()).error).toMatchObject({ code: 'file_too_large', param: 'file' });
    // the connection stays usable: the next request works
    const ok = await postAudio(srv.base, wav, { model: MODEL }, { key: KEY });
    expect(ok.status).toBe(200);
  });

  it('a far larger upload is refused from Content-Length alone, with the same 413', async () => {
    const huge = makeWav(60, 4); // 1.9 MB, beyond the limit plus the form allowance
    const before = srv.fake.calls.length;
    const res = await postAudio(srv.base, huge, { model: MODEL }, { key: KEY });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('file_too_large');
    expect(srv.fake.calls.length).toBe(before);
    expect((await postAudio(srv.base, wav, { model: MODEL }, { key: KEY })).status).toBe(200);
  });

  it('audio over maxAudioSeconds → 413', async () => {
    const long = makeWav(6, 3); // 6 s > 5 s, 192 kB < 200 kB
    const file = await toFile(long, 'long.wav');
    const err = await client.audio.transcriptions.create({ file, model: MODEL }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(413);
    expect(e.code).toBe('audio_too_long');
  });

  it('engine failure → 500 without details', async () => {
    srv.fake.failWith = new Error('GPU device lost at /secret/path');
    try {
      const res = await postAudio(srv.base, wav, { model: MODEL }, { key: KEY });
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toContain('secret');
      expect(text).not.toContain('at ');
      expect(JSON.parse(text).error.type).toBe('server_error');
    } finally {
      srv.fake.failWith = undefined;
    }
  });

  it('GET /v1/models lists the model (auth required); unknown routes are 404 JSON', async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual([MODEL]);
    const m = await client.models.retrieve(MODEL);
    expect(m.id).toBe(MODEL);
    expect((await fetch(`${srv.base}/v1/models`)).status).toBe(401);
    const nf = await fetch(`${srv.base}/v1/nope`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(nf.status).toBe(404);
    expect((await nf.json()).error.code).toBe('unknown_url');
  });

  it('GET /health needs no key and reports the queue', async () => {
    const res = await fetch(`${srv.base}/health`);
    expect(res.status).toBe(200);
    const queue = { running: 0, waiting: 0, capacity: 16, concurrency: 1 };
    expect(await res.json()).toMatchObject({ status: 'ok', model: MODEL, queue });
  });

  it('GET / serves the web page without a key; assets too; no path traversal', async () => {
    const res = await fetch(`${srv.base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await res.text();
    expect(html).toContain('<html');
    for (const asset of ['app.js', 'style.css']) {
      const a = await fetch(`${srv.base}/${asset}`);
      expect(a.status, asset).toBe(200);
    }
    expect((await fetch(`${srv.base}/app.js`)).headers.get('content-type')).toContain('text/javascript');
    for (const bad of ['/..%2Fpackage.json', '/%2e%2e/package.json', '/.env', '/package.json']) {
      expect((await fetch(`${srv.base}${bad}`)).status, bad).toBe(404);
    }
  });
});

describe('server without an API key', () => {
  it('accepts requests with or without a Bearer token', async () => {
    const srv = await startTestServer();
    try {
      const wav = makeWav(0.5, 9);
      const client = new OpenAI({ apiKey: 'anything', baseURL: `${srv.base}/v1`, maxRetries: 0 });
      const res = await client.audio.transcriptions.create({ file: await toFile(wav, 'a.wav'), model: MODEL });
      expect(res.text).toBe(fakeText(wav));
      expect((await postAudio(srv.base, wav)).status).toBe(200);
    } finally {
      await srv.close();
    }
  });
});

describe('rate limit', () => {
  it('→ 429 with an OpenAI-style body and Retry-After; the client throws RateLimitError', async () => {
    const srv = await startTestServer({ apiKey: KEY, rateLimit: { max: 3, timeWindowMs: 60_000 } });
    try {
      const client = new OpenAI({ apiKey: KEY, baseURL: `${srv.base}/v1`, maxRetries: 0 });
      for (let i = 0; i < 3; i++) await client.models.list();
      const err = await client.models.list().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      const res = await fetch(`${srv.base}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await res.json()).error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
      // /health is not rate limited
      expect((await fetch(`${srv.base}/health`)).status).toBe(200);
      // requests without the valid key use the per-IP bucket, which is still fresh: 401, not 429
      expect((await fetch(`${srv.base}/v1/models`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    } finally {
      await srv.close();
    }
  });
});
