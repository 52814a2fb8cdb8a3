/** The request log: one JSON line per request, never the key, never audio content. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RequestLogLine } from '../../src/server/app';
import { makeWav, postAudio, startTestServer, waitFor } from './helpers';

const KEY = 'sk-log-test-0123456789abcdef';

describe('request log', () => {
  it('one JSON line per request with the expected fields; no key, no audio bytes', async () => {
    const srv = await startTestServer({ apiKey: KEY });
    try {
      const wav = makeWav(0.75, 42);
      expect((await postAudio(srv.base, wav, { model: 'm' }, { key: KEY })).status).toBe(200);
      expect((await postAudio(srv.base, wav, { model: 'm' }, { key: 'sk-wrong-key-value' })).status).toBe(401);
      expect((await postAudio(srv.base, new TextEncoder().encode('garbage!'), {}, { key: KEY })).status).toBe(400);
      expect((await fetch(`${srv.base}/health?probe=1`)).status).toBe(200);
      await waitFor(() => srv.logs.length === 4);

      const lines = srv.logs.map((l) => JSON.parse(l) as RequestLogLine);
      const [ok, bad, corrupt, health] = lines;
      const keyId = createHash('sha256').update(KEY).digest('hex').slice(0, 4);
      expect(ok).toMatchObject({ method: 'POST', path: '/v1/audio/transcriptions', status: 200, auth: 'ok', keyId });
      expect(ok).toMatchObject({ ip: '127.0.0.1', audioSec: 0.75 });
      expect(ok.bytesIn).toBeGreaterThan(wav.length);
      expect(ok.ms).toBeGreaterThanOrEqual(0);
      expect(ok.queueMs).toBeGreaterThanOrEqual(0);
      expect(ok.runMs).toBeGreaterThanOrEqual(0);
      expect(new Date(ok.time).getTime()).not.toBeNaN();
      expect(bad).toMatchObject({ status: 401, auth: 'invalid', error: 'invalid_api_key', audioSec: null });
      expect(bad.keyId).toMatch(/^[0-9a-f]{4}$/);
      expect(corrupt).toMatchObject({ status: 400, error: 'invalid_audio' });
      expect(health).toMatchObject({ method: 'GET', path: '/health', status: 200, auth: 'missing', keyId: null });

      const all = srv.logs.join('\n');
      for (const secret of [KEY, KEY.slice(3, 15), 'sk-wrong-key-value', 'wrong-key']) {
        expect(all).not.toContain(secret);
      }
      const data = Buffer.from(wav.subarray(44, 44 + 24));
      for (const form of [data.toString('hex'), data.toString('base64').slice(0, 16), data.toString('latin1')]) {
        expect(all).not.toContain(form);
      }
      expect(all).not.toContain('garbage');
      expect(all).not.toContain('probe=1'); // paths are logged without the query string
    } finally {
      await srv.close();
    }
  });

  it('can hash or drop the client IP', async () => {
    for (const mode of ['hash', 'off'] as const) {
      const srv = await startTestServer({ logClientIp: mode });
      try {
        await fetch(`${srv.base}/health`);
        await waitFor(() => srv.logs.length === 1);
        const { ip } = JSON.parse(srv.logs[0]) as RequestLogLine;
        if (mode === 'hash') expect(ip).toMatch(/^[0-9a-f]{12}$/);
        else expect(ip).toBeNull();
      } finally {
        await srv.close();
      }
    }
  });
});
