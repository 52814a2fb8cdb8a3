/**
 * The browser path of GET /v1/realtime in headless Chromium: a client secret minted with the API key, the page's
 * WebSocket authenticated by the subprotocols `realtime` + `openai-insecure-api-key.<secret>` (Chromium must
 * accept the server's choice of `realtime`), microphone-like Float32 audio converted as docs/server.md shows.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWhen } from '../helpers/skip';
import { fakeFinalText } from './fake-transcriber';
import { startTestServer, type TestServer } from './helpers';
import { bytesOf } from './realtime-helpers';

const CHROMIUM = '/usr/bin/chromium';
const NO_CHROMIUM = existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (bash scripts/setup.sh installs chromium)`;
const KEY = 'sk-realtime-browser-key';

describe('realtime from a browser (headless Chromium)', skipWhen(NO_CHROMIUM), () => {
  let srv: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    srv = await startTestServer({ apiKey: KEY });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--no-first-run'] });
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('a client secret as subprotocol: the session opens and transcribes 16 kHz audio', async () => {
    const res = await fetch(`${srv.base}/v1/realtime/client_secrets`, { method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ session: { type: 'transcription', audio: { input: {
        format: { type: 'audio/pcm', rate: 16000 }, turn_detection: null } } } }) });
    const { value } = (await res.json()) as { value: string };
    const f32 = Array.from({ length: 8000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000));

    const page = await browser.newPage();
    try {
      await page.goto(`${srv.base}/health`);
      const got = await page.evaluate(async ({ url, secret, samples }) => {
        const ws = new WebSocket(url, ['realtime', `openai-insecure-api-key.${secret}`]);
        const events: { type: string; transcript?: string; session?: unknown }[] = [];
        const done = new Promise<void>((resolve, reject) => {
          ws.onmessage = ({ data }) => {
            const e = JSON.parse(data as string);
            events.push(e);
            if (e.type === 'conversation.item.input_audio_transcription.completed') resolve();
          };
          ws.onclose = (e) => reject(new Error(`closed ${e.code} ${e.reason}`));
        });
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = () => reject(new Error('the WebSocket did not open'));
        });
        // As docs/server.md's browser example: Float32 → s16 → base64, 100 ms per append.
        const append = (f32: Float32Array) => {
          const s16 = Int16Array.from(f32, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
          let bin = '';
          for (const b of new Uint8Array(s16.buffer)) bin += String.fromCharCode(b);
          ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: btoa(bin) }));
        };
        const all = Float32Array.from(samples);
        for (let at = 0; at < all.length; at += 1600) append(all.subarray(at, at + 1600));
        ws.send(JSON.stringify({ type: 'input_audio_buffer.commit' }));
        await done;
        ws.close();
        return { protocol: ws.protocol, events };
      }, { url: `${srv.base.replace(/^http/, 'ws')}/v1/realtime?intent=transcription`, secret: value, samples: f32 });

      expect(got.protocol).toBe('realtime');
      expect(got.events[0]).toMatchObject({ type: 'session.created',
        session: { audio: { input: { format: { rate: 16000 }, turn_detection: null } } } });
      const s16 = Int16Array.from(Float32Array.from(f32),
        (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
      expect(got.events.at(-1)?.transcript).toBe(fakeFinalText(0, bytesOf(s16), 16000));
    } finally {
      await page.close();
    }
  });
});
