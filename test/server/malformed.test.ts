/**
 * Client mistakes get a 4xx with an OpenAI-shaped error that says what is wrong — never a 500.
 * Each request here was a 500 `internal_error` before (issue 14 §2), or is a close relative.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptionError } from '../../src/models/glm-asr/options';
import { FakeTranscriber } from './fake-transcriber';
import { makeWav, startTestServer, type TestServer } from './helpers';

const BOUNDARY = 'glmasrboundary42';

/** A multipart body with the parts given (a file part when `file` is set). */
function multipartBody(fields: Record<string, string>, file?: { bytes: Uint8Array; name?: string }): Uint8Array {
  const boundary = BOUNDARY;
  const chunks: Uint8Array[] = [];
  const text = (s: string) => chunks.push(new TextEncoder().encode(s));
  for (const [k, v] of Object.entries(fields)) {
    text(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  }
  if (file) {
    const disposition = `Content-Disposition: form-data; name="file"; filename="${file.name ?? 'a.wav'}"`;
    text(`--${boundary}\r\n${disposition}\r\nContent-Type: audio/wav\r\n\r\n`);
    chunks.push(file.bytes);
    text('\r\n');
  }
  text(`--${boundary}--\r\n`);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A WAV header claiming `rate` Hz over `n` 16-bit samples: the issue's 244-byte repro for n = 100. */
function wavAt(rate: number, n = 100): Uint8Array {
  const w = makeWav(n / 16000);
  const v = new DataView(w.buffer);
  v.setUint32(24, rate >>> 0, true);
  v.setUint32(28, (rate * 2) >>> 0, true);
  return w;
}

interface ErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

interface Case {
  what: string;
  contentType: string;
  body: Uint8Array;
  status: number;
  code: string;
  message: RegExp;
}

describe('malformed requests → 4xx, never 500', () => {
  let srv: TestServer;
  const wav = makeWav(0.5, 3);
  const ok = multipartBody({ model: 'm' }, { bytes: wav });
  const mp = `multipart/form-data; boundary=${BOUNDARY}`;

  beforeAll(async () => {
    // the real engine's default: `serve` loads the model with maxBeams 4
    srv = await startTestServer({ transcriber: new FakeTranscriber({ maxBeams: 4 }), maxAudioSeconds: 30 });
  });
  afterAll(() => srv.close());

  const cases: Case[] = [
    {
      what: 'multipart without a boundary',
      contentType: 'multipart/form-data',
      body: ok,
      status: 400,
      code: 'invalid_multipart',
      message: /multipart\/form-data body could not be read: Multipart: Boundary not found/,
    },
    {
      what: 'a boundary the body does not use',
      contentType: 'multipart/form-data; boundary=other',
      body: ok,
      status: 400,
      code: 'invalid_multipart',
      message: /could not be read: Unexpected end of (multipart data|form)/,
    },
    {
      what: 'a body cut short in the file',
      contentType: mp,
      body: ok.subarray(0, 300),
      status: 400,
      code: 'invalid_multipart',
      message: /could not be read/,
    },
    {
      what: 'a body cut short in a header',
      contentType: mp,
      body: ok.subarray(0, 40),
      status: 400,
      code: 'invalid_multipart',
      message: /could not be read/,
    },
    {
      what: 'a body that is not multipart at all',
      contentType: mp,
      body: new TextEncoder().encode('hello'),
      status: 400,
      code: 'invalid_multipart',
      message: /could not be read/,
    },
    {
      what: 'a valid 31 ms WAV (too short for one audio token)',
      contentType: mp,
      body: multipartBody({}, { bytes: makeWav(0.031), name: 'short.wav' }),
      status: 400,
      code: 'audio_too_short',
      message: /^short\.wav: the audio is 31\.0 ms long; the shortest the model takes is 60\.1 ms\.$/,
    },
    {
      what: 'beams=5 when the transcriber takes 4',
      contentType: mp,
      body: multipartBody({ beams: '5' }, { bytes: wav }),
      status: 400,
      code: 'invalid_value',
      message: /'beams' must be between 1 and 4, got 5/,
    },
    {
      what: 'beams=8 when the transcriber takes 4',
      contentType: mp,
      body: multipartBody({ beams: '8' }, { bytes: wav }),
      status: 400,
      code: 'invalid_value',
      message: /'beams' must be between 1 and 4, got 8/,
    },
    {
      what: 'a WAV at 4,294,967,295 Hz',
      contentType: mp,
      body: multipartBody({}, { bytes: wavAt(4_294_967_295), name: 'x.wav' }),
      status: 400,
      code: 'invalid_audio',
      message: /^x\.wav: fmt chunk at byte 12 says sample rate 4294967295 Hz; supported: 1000 to 768000 Hz$/,
    },
    {
      what: 'a WAV at 20,000,003 Hz (the 244-byte repro)',
      contentType: mp,
      body: multipartBody({}, { bytes: wavAt(20_000_003), name: 'x.wav' }),
      status: 400,
      code: 'invalid_audio',
      message: /sample rate 20000003 Hz; supported: 1000 to 768000 Hz/,
    },
    {
      what: 'a WAV at 1 Hz',
      contentType: mp,
      body: multipartBody({}, { bytes: wavAt(1, 1000), name: 'x.wav' }),
      status: 400,
      code: 'invalid_audio',
      message: /sample rate 1 Hz; supported/,
    },
    {
      what: 'a 40 s WAV over a 30 s limit',
      contentType: mp,
      body: multipartBody({}, { bytes: wavAt(1000, 40_000), name: 'long.wav' }),
      status: 413,
      code: 'audio_too_long',
      message: /^long\.wav: the audio is 40\.0 s long; the limit is 30 s\.$/,
    },
  ];

  for (const c of cases) {
    it(c.what, async () => {
      const res = await fetch(`${srv.base}/v1/audio/transcriptions`, {
        method: 'POST',
        headers: { 'content-type': c.contentType },
        body: c.body as Uint8Array<ArrayBuffer>,
      });
      const body = (await res.json()) as ErrorBody;
      expect(res.status, JSON.stringify(body)).toBe(c.status);
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.error.code).toBe(c.code);
      expect(body.error.message).toMatch(c.message);
    });
  }

  it('the server still answers a good request afterwards', async () => {
    const init = { method: 'POST', headers: { 'content-type': mp }, body: ok as Uint8Array<ArrayBuffer> };
    const res = await fetch(`${srv.base}/v1/audio/transcriptions`, init);
    expect(res.status).toBe(200);
  });

  it('an option the model refuses (OptionError from the engine) is a 400 naming the field', async () => {
    const refused = new OptionError('maxChunkSeconds', 'must be from 2 to 20 (the window), got 25');
    const limited = await startTestServer({ transcriber: new FakeTranscriber({ failWith: refused }) });
    try {
      const init = { method: 'POST', headers: { 'content-type': mp }, body: ok as Uint8Array<ArrayBuffer> };
      const res = await fetch(`${limited.base}/v1/audio/transcriptions`, init);
      const body = (await res.json()) as ErrorBody;
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(body.error).toMatchObject({ code: 'invalid_option', param: 'max_chunk_seconds' });
      expect(body.error.message).toMatch(/maxChunkSeconds must be from 2 to 20/);
    } finally {
      await limited.close();
    }
  });

  it('a server asking for more beams than its transcriber has is refused at build time', async () => {
    await expect(startTestServer({ transcriber: new FakeTranscriber({ maxBeams: 4 }), maxBeams: 8 })).rejects.toThrow(
      /maxBeams must be an integer from 1 to 4 \(the transcriber's maxBeams\), got 8/,
    );
  });
});
