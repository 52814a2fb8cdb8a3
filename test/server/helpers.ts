/** Shared helpers of the server tests: WAV bytes, a server on 127.0.0.1 with a captured log. */
import { buildServer, type AsrServer, type ServerOptions } from '../../src/server/app';
import { FakeTranscriber } from './fake-transcriber';

/** A 16-bit mono PCM WAV of `seconds`; `seed` changes the samples (so the bytes, so the text). */
export function makeWav(seconds: number, seed = 0, sampleRate = 16000): Uint8Array {
  const frames = Math.round(seconds * sampleRate);
  const out = new Uint8Array(44 + frames * 2);
  const v = new DataView(out.buffer);
  const ascii = (o: number, s: string) => [...s].forEach((c, i) => (out[o + i] = c.charCodeAt(0)));
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + frames * 2, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  ascii(36, 'data');
  v.setUint32(40, frames * 2, true);
  const freq = 220 + 7 * seed;
  for (let i = 0; i < frames; i++) {
    const tone = Math.round(8000 * Math.sin((2 * Math.PI * freq * i) / sampleRate));
    v.setInt16(44 + 2 * i, tone + (i === 0 ? seed : 0), true);
  }
  return out;
}

export interface TestServer {
  app: AsrServer;
  fake: FakeTranscriber;
  /** http://127.0.0.1:PORT */
  base: string;
  logs: string[];
  close(): Promise<void>;
}

export async function startTestServer(
  options: Partial<ServerOptions> & { delayMs?: number } = {},
): Promise<TestServer> {
  const { delayMs, ...rest } = options;
  const fake = (rest.transcriber as FakeTranscriber | undefined) ?? new FakeTranscriber({ delayMs });
  const logs: string[] = [];
  const app = buildServer({ rateLimit: false, logger: (line) => logs.push(line), ...rest, transcriber: fake });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  if (!addr || typeof addr !== 'object') throw new Error('no address');
  const close = () => app.closeGracefully({ timeoutMs: 2000 });
  return { app, fake, base: `http://127.0.0.1:${addr.port}`, logs, close };
}

/** POST a form to /v1/audio/transcriptions with fetch. */
export async function postAudio(
  base: string,
  bytes: Uint8Array | null,
  fields: Record<string, string> = {},
  init: { key?: string; signal?: AbortSignal; filename?: string } = {},
): Promise<Response> {
  const form = new FormData();
  if (bytes) {
    form.append('file', new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'audio/wav' }), init.filename ?? 'a.wav');
  }
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const headers: Record<string, string> = {};
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  return fetch(`${base}/v1/audio/transcriptions`, { method: 'POST', body: form, headers, signal: init.signal });
}

/** Polls `check` every 5 ms until it returns true (or throws after `timeoutMs`). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
