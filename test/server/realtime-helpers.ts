/** Shared helpers of the realtime tests: clients (the `openai` package's and raw `ws`), PCM, event waits. */
import { connect } from 'node:net';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import WebSocket from 'ws';

export type Event = { type: string } & Record<string, unknown>;

/**
 * The `openai` package's Realtime client on the test server. It always builds a `wss:` URL from `baseURL`; the
 * test server speaks plain HTTP on loopback, so the connection is made with a plain TCP socket.
 */
export function openaiRealtime(base: string, apiKey = 'unused'): OpenAIRealtimeWS {
  const client = new OpenAI({ apiKey, baseURL: `${base}/v1` });
  const { port } = new URL(base);
  return new OpenAIRealtimeWS({
    model: 'glm-asr-nano-2512',
    options: { createConnection: () => connect(Number(port), '127.0.0.1') },
  }, client);
}

/** A raw `ws` client on `/v1/realtime?intent=transcription`. */
export function rawRealtime(base: string, init: { key?: string; protocols?: string[] } = {}): WebSocket {
  const headers: Record<string, string> = init.key ? { authorization: `Bearer ${init.key}` } : {};
  return new WebSocket(`${base.replace(/^http/, 'ws')}/v1/realtime?intent=transcription`, init.protocols ?? [],
    { headers });
}

/** Records a socket's server events and close; `next` waits for an event by type (and predicate). */
export class EventLog {
  readonly events: Event[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  constructor(ws: WebSocket) {
    ws.on('message', (data) => this.add(JSON.parse(String(data)) as Event));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
  }

  add(e: Event): void {
    this.events.push(e);
    this.wake();
  }

  of(type: string): Event[] {
    return this.events.filter((e) => e.type === type);
  }

  /** Resolves with the `n`-th (1-based) event of `type`; rejects after `timeoutMs` or when the socket closes first. */
  async next(type: string, n = 1, timeoutMs = 10_000): Promise<Event> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.of(type)[n - 1];
      if (found) return found;
      if (this.closed) throw new Error(`closed (${this.closed.code} ${this.closed.reason}) before ${type} #${n}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${type} #${n}; got ${this.types().join(', ')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  async closedWith(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    const end = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > end) throw new Error(`not closed; got ${this.types().join(', ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.closed;
  }

  types(): string[] {
    return this.events.map((e) => e.type);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

/** The HTTP answer to an upgrade the server refused: status and OpenAI error body. */
export function refused(ws: WebSocket): Promise<{ status: number; body: { error: Record<string, unknown> } }> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
  });
}

/** `seconds` of s16 PCM: a 300 Hz tone at amplitude `amp` (0 = silence) with a little seeded dither. */
export function tone(seconds: number, rate: number, amp = 0.3, seed = 1): Int16Array {
  const out = new Int16Array(Math.round(seconds * rate));
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = Math.round(32767 * amp * Math.sin((2 * Math.PI * 300 * i) / rate)) + ((s >> 16) % 3);
  }
  return out;
}

export function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const bytesOf = (pcm: Int16Array) => new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
export const base64Of = (pcm: Int16Array) => Buffer.from(bytesOf(pcm)).toString('base64');

/**
 * Sends `pcm` as `input_audio_buffer.append` events of `chunkMs`; `realTime` paces them at the audio's rate
 * (else as fast as the socket takes them).
 */
export async function streamPcm(
  send: (event: { type: 'input_audio_buffer.append'; audio: string }) => void,
  pcm: Int16Array, rate: number, chunkMs: number, realTime: boolean,
): Promise<void> {
  const step = Math.round((rate * chunkMs) / 1000);
  const t0 = performance.now();
  for (let at = 0; at < pcm.length; at += step) {
    send({ type: 'input_audio_buffer.append', audio: base64Of(pcm.subarray(at, at + step)) });
    if (realTime) {
      const due = t0 + ((at + step) / rate) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    }
  }
}
