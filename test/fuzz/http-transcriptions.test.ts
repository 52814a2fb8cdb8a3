/**
 * Seeded fuzz of `POST /v1/audio/transcriptions` (issue 14 §2): mutated multipart bodies (boundaries,
 * part headers, truncation, stray bytes), form fields (odd values, duplicates, oversize), request
 * headers (content type, auth) and mutated audio. The model is the fake; the server's header checks,
 * decoding and resampling are the real ones. Every answer must be a 2xx, or a 4xx with an
 * OpenAI-shaped error body — never a 5xx, a dropped connection or a hang.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildServer, type AsrServer } from '../../src/server/app';
import { FakeTranscriber } from '../server/fake-transcriber';
import { AUDIO_SEEDS, mutateAudio } from './audio-mutate';
import { Rng } from './mutate';

const SEED = 0x5eed_4177;
const CASES = 2300;
const CONCURRENCY = 4;
const KEY = 'sk-fuzz-0b3c';
const REQUEST_TIMEOUT_MS = 10_000;

const FIELD_NAMES = [
  'model', 'response_format', 'beams', 'max_new_tokens', 'temperature', 'language', 'stream', 'prompt',
  'timestamp_granularities[]', 'file', '', 'x"y', 'ä', 'a'.repeat(300),
];
const FIELD_VALUES: Record<string, readonly string[]> = {
  model: ['whisper-1', 'glm-asr-nano-2512', ''],
  response_format: ['json', 'text', 'srt', 'vtt', 'verbose_json', 'JSON', 'xml', ''],
  beams: ['1', '2', '4', '5', '8', '0', '-1', '1.5', '1e3', 'NaN', '９', ' 2 ', '99999999999999999999'],
  max_new_tokens: ['1', '77', '4096', '4097', '0', '-5', 'many', ''],
  temperature: ['0', '0.2', '-1', 'hot', 'Infinity', ''],
  language: ['en', 'zh-CN', 'e', 'english language', '../../etc', ''],
  stream: ['false', 'true', '1', 'maybe'],
};
/** Values the server accepts, for the requests that should succeed. */
const VALID_VALUES: Record<string, readonly string[]> = {
  model: ['whisper-1', 'glm-asr-nano-2512'],
  response_format: ['json', 'text', 'srt', 'vtt', 'verbose_json'],
  beams: ['1', '2', '4'],
  max_new_tokens: ['1', '77', '4096'],
  temperature: ['0', '0.2'],
  language: ['en', 'zh-CN'],
  stream: ['false'],
};
const ODD_VALUES = ['', ' ', '\u0000', '\r\n', '"', '--', 'a'.repeat(70_000), '\uD800', 'ü'.repeat(50)];

interface FuzzRequest {
  headers: Record<string, string>;
  body: Uint8Array;
  method: string;
  path: string;
}

const enc = (s: string) => new TextEncoder().encode(s);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function makeRequest(r: Rng, i: number): FuzzRequest {
  // a third of the requests are well formed (only the audio may be mutated): the decode path's share
  const clean = r.chance(1 / 3);
  const oddBoundaries = ['', '"quoted"', 'a b', '-'.repeat(71), 'é'];
  const boundary = clean || r.chance(0.9) ? `fz${i}${'x'.repeat(r.int(20))}` : r.pick(oddBoundaries);
  const parts: Uint8Array[] = [];
  const addPart = (name: string, value: Uint8Array, filename?: string) => {
    const disposition = clean || r.chance(0.97)
      ? `Content-Disposition: form-data; name="${name}"${filename !== undefined ? `; filename="${filename}"` : ''}`
      : r.pick([
          'Content-Disposition: attachment',
          'Content-Disposition: form-data',
          'X-Nothing: 1',
          `Content-Disposition: form-data; name=${name}`,
        ]);
    const fileTypes = ['audio/wav', 'application/octet-stream', 'text/plain', ''];
    const type = filename !== undefined ? `\r\nContent-Type: ${r.pick(fileTypes)}` : '';
    parts.push(enc(`--${boundary}\r\n${disposition}${type}\r\n\r\n`), value, enc('\r\n'));
  };

  // fields: mostly the known ones with plausible or odd values, sometimes strange names, duplicates
  for (let f = 0, n = r.int(6); f < n; f++) {
    if (clean) {
      const name = r.pick(Object.keys(VALID_VALUES));
      addPart(name, enc(r.pick(VALID_VALUES[name])));
      continue;
    }
    const name = r.chance(0.8) ? r.pick(Object.keys(FIELD_VALUES)) : r.pick(FIELD_NAMES);
    const value = r.chance(0.85) && FIELD_VALUES[name] ? r.pick(FIELD_VALUES[name]) : r.pick(ODD_VALUES);
    addPart(name, enc(value));
  }
  if (!clean && r.chance(0.03)) for (let f = 0; f < 40; f++) addPart(`f${f}`, enc('x')); // over the field limit

  // the file: usually one (mutated half the time), sometimes none, two, or under another name
  const [seedName, seed] = r.pick(AUDIO_SEEDS);
  const audio = r.chance(0.5) ? seed : mutateAudio(r, seed);
  const fileCount = clean || r.chance(0.9) ? 1 : r.pick([0, 2]);
  for (let f = 0; f < fileCount; f++) {
    const field = clean || r.chance(0.95) ? 'file' : r.pick(['audio', 'File', '']);
    addPart(field, audio, r.pick([seedName, '', '../../etc/passwd', 'ü.wav', 'a"b.wav']));
  }
  const oddEnds = ['', `--${boundary}`, '--\r\n', `--${boundary}--`];
  parts.push(enc(clean || r.chance(0.95) ? `--${boundary}--\r\n` : r.pick(oddEnds)));
  let body = concat(parts);

  // framing damage: cut short, stray bytes, a flipped byte in the multipart text
  const damage = clean ? -1 : r.int(10);
  if (damage === 0) body = body.slice(0, r.int(body.length + 1));
  else if (damage === 1) {
    const p = r.int(body.length);
    const stray = Uint8Array.from({ length: 1 + r.int(40) }, () => r.int(256));
    body = concat([body.subarray(0, p), stray, body.subarray(p)]);
  } else if (damage === 2 && body.length > 0) {
    body[r.int(Math.min(body.length, 120))] ^= 1 << r.int(8);
  }

  const headers: Record<string, string> = {};
  const ct = clean ? 0 : r.int(20);
  if (ct < 16) headers['content-type'] = `multipart/form-data; boundary=${boundary}`;
  else if (ct === 16) headers['content-type'] = 'multipart/form-data';
  else if (ct === 17) headers['content-type'] = `multipart/form-data; boundary=${boundary}x`;
  else if (ct === 18) {
    const types = ['text/plain', 'application/json', 'multipart/mixed; boundary=a'];
    headers['content-type'] = r.pick([...types, 'application/x-www-form-urlencoded']);
  }
  // ct === 19: no content type at all
  const auth = clean ? 0 : r.int(10);
  if (auth < 8) headers.authorization = `Bearer ${KEY}`;
  else if (auth === 8) {
    const wrongKeys = ['Bearer', 'Bearer wrong', 'Basic dXNlcjpwYXNz', `bearer ${KEY}`, `Bearer ${KEY} extra`];
    headers.authorization = r.pick(wrongKeys);
  }

  const method = clean || r.chance(0.97) ? 'POST' : r.pick(['GET', 'PUT', 'DELETE']);
  const oddPaths = ['/v1/audio/transcriptions/', '/v1/audio/transcriptions?x=1', '/v1/audio/translations'];
  const path = clean || r.chance(0.97) ? '/v1/audio/transcriptions' : r.pick(oddPaths);
  return { headers, body, method, path };
}

interface Answer {
  status: number;
  text: string;
}

async function send(base: string, req: FuzzRequest): Promise<Answer> {
  const res = await fetch(`${base}${req.path}`, {
    method: req.method,
    headers: req.headers,
    body: req.method === 'GET' ? undefined : (req.body as Uint8Array<ArrayBuffer>),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: res.status, text: await res.text() };
}

/** Null when the answer is acceptable, else what is wrong with it. */
function judge(a: Answer): string | null {
  if (a.status >= 500) return `status ${a.status}: ${a.text.slice(0, 300)}`;
  if (a.status >= 200 && a.status < 300) return null;
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    return `status ${a.status} without a JSON body: ${a.text.slice(0, 100)}`;
  }
  const err = (body as { error?: Record<string, unknown> }).error;
  const shaped = err && typeof err.message === 'string' && err.message && typeof err.type === 'string' && 'code' in err;
  if (!shaped || !('param' in err)) {
    return `status ${a.status} without an OpenAI error body: ${a.text.slice(0, 200)}`;
  }
  return null;
}

describe(`HTTP transcription fuzz (${CASES} seeded requests, seed ${SEED.toString(16)})`, () => {
  let app: AsrServer;
  let base: string;

  beforeAll(async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined); // the WASM decoders log what they reject
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    app = buildServer({
      transcriber: new FakeTranscriber({ maxBeams: 4 }),
      apiKey: KEY,
      rateLimit: false,
      logger: false,
      maxAudioSeconds: 20,
      maxUploadBytes: 1 << 20,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const addr = app.server.address();
    if (!addr || typeof addr !== 'object') throw new Error('no address');
    base = `http://127.0.0.1:${addr.port}`;
  });
  afterAll(async () => {
    await app.closeGracefully({ timeoutMs: 2000 });
    vi.restoreAllMocks();
  });

  it('every request gets a 2xx or a 4xx with an OpenAI error body; no 5xx, no hang', async () => {
    const r = new Rng(SEED);
    const requests = Array.from({ length: CASES }, (_, i) => makeRequest(r, i));
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const i = next++;
        try {
          const answer = await send(base, requests[i]);
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          const wrong = judge(answer);
          if (wrong) failures.push(`case ${i}: ${wrong}`);
        } catch (e) {
          failures.push(`case ${i}: ${(e as Error).name}: ${(e as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const summary = [...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ');
    console.log(`http fuzz: ${CASES} requests: ${summary}; ${failures.length} failures`);
    expect(failures.slice(0, 10)).toEqual([]);
    // both successes and refusals, or the fuzz is not reaching the decoder
    expect(statuses.get(200) ?? 0).toBeGreaterThan(CASES / 6);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(CASES / 10);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });
});
