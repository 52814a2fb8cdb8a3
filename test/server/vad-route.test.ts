/**
 * The VAD route: the package's models/silero-vad-v5 files at /vad/silero-vad-v5/<file> for the page's in-browser
 * mode, byte for byte, with ranges and HEAD; nothing else from that folder or above it; the API key when one is set.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../audio/helpers';
import { startTestServer, type TestServer } from './helpers';

const VAD_DIR = join(REPO, 'models/silero-vad-v5');
const KEY = 'sk-vad-route';

describe('GET /vad/silero-vad-v5/<file>', () => {
  let open: TestServer;
  let keyed: TestServer;
  beforeAll(async () => {
    open = await startTestServer({ browserBundleDir: false, modelDir: false });
    keyed = await startTestServer({ apiKey: KEY, browserBundleDir: false, modelDir: false });
  });
  afterAll(async () => {
    await open?.close();
    await keyed?.close();
  });

  it('serves config.json, model.safetensors and LICENSE as they are on disk', async () => {
    for (const [file, type] of [
      ['config.json', 'application/json'], ['model.safetensors', 'application/octet-stream'], ['LICENSE', 'text/plain'],
    ]) {
      const res = await fetch(`${open.base}/vad/silero-vad-v5/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-type'), file).toContain(type);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(VAD_DIR, file))), file).toBe(true);
    }
  });

  it('answers ranges and HEAD as the model route does', async () => {
    const size = statSync(join(VAD_DIR, 'model.safetensors')).size;
    const url = `${open.base}/vad/silero-vad-v5/model.safetensors`;
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(size));
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    const part = await fetch(url, { headers: { Range: 'bytes=0-7' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-7/${size}`);
    const first8 = readFileSync(join(VAD_DIR, 'model.safetensors')).subarray(0, 8);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(first8);
    const bad = await fetch(url, { headers: { Range: `bytes=${size}-` } });
    expect(bad.status).toBe(416);
    await bad.arrayBuffer();
  });

  it('404 for any other name', async () => {
    const paths = [
      '/vad/silero-vad-v5/README.md', '/vad/silero-vad-v5/..%2Fdemo%2Fconfig.json', '/vad/silero-vad-v5/',
      '/vad/silero-vad-v4/config.json', '/vad/silero-vad-v5/config.json/x', '/vad/silero-vad-v5/license',
    ];
    for (const p of paths) {
      const res = await fetch(open.base + p);
      expect(res.status, p).toBe(404);
      await res.arrayBuffer();
    }
  });

  it('wants the API key when the server has one', async () => {
    const url = `${keyed.base}/vad/silero-vad-v5/config.json`;
    const denied = await fetch(url);
    expect(denied.status).toBe(401);
    await denied.arrayBuffer();
    const wrong = await fetch(url, { headers: { Authorization: 'Bearer sk-wrong' } });
    expect(wrong.status).toBe(401);
    await wrong.arrayBuffer();
    const ok = await fetch(url, { headers: { Authorization: `Bearer ${KEY}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { format?: string }).format).toBe('silero-vad-v5');
  });
});
