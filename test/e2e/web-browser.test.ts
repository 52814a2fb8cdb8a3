/**
 * The web page in a real browser against the real server with the real (tiny golden) model:
 *
 * - in-browser mode: headless Chromium loads the browser bundle (also the engine's Web Worker), downloads the
 *   checkpoint from the server's model route into Cache Storage and the VAD weights from the VAD route,
 *   transcribes a clip on its WebGPU adapter (SwiftShader) with VAD segmentation; after a reload the model loads
 *   from the cache with no request to the model route; "Clear cached model" empties the cache; without the VAD
 *   route the page falls back to fixed 30 s windows, says so, and returns the PyTorch reference's greedy ids
 *   (`golden`, fixed windows);
 * - server mode: the same clip uploaded through the page gives the same text and ids (both VAD), and the API
 *   with segmenter=fixed gives the golden ids;
 * - the model route: ranges, HEAD, known file names only.
 *
 * Screenshots: test-output/web-browser-mode.png, test-output/web-server-mode.png.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlmAsr } from '../../src/models/glm-asr/node';
import { buildServer, type AsrServer } from '../../src/server/app';
import { openSafetensorsFile } from '../../src/weights/node-file-source';
// @ts-expect-error plain .mjs build script without types
import { buildWeb } from '../../scripts/build-web.mjs';
import { makeWav, REPO } from '../audio/helpers';
import { skipWhen } from '../helpers/skip';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic', '--enable-unsafe-webgpu',
];
const MODEL = join(REPO, 'test/goldens/tiny');
const DUMP = join(REPO, 'test/goldens/dumps/tiny-zh-funasr-sample.safetensors');
const OUT = join(REPO, 'test-output');

interface LogLine { method: string; path: string; status: number; bytesIn: number | null }

const NO_CHROMIUM = existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (bash scripts/setup.sh installs chromium)`;

describe('web page with the real model (headless Chromium)', skipWhen(NO_CHROMIUM), () => {
  let asr: GlmAsr;
  let app: AsrServer;
  let base: string;
  const logs: LogLine[] = [];
  let browser: Browser;
  let wav: Buffer;
  let golden: number[];
  let browserText = '';
  let browserTokens: number[] = [];
  const bundleDir = mkdtempSync(join(tmpdir(), 'glm-asr-web-'));

  const modelRequests = () => logs.filter((l) => l.path.startsWith('/models/')).length;
  const vadRequests = () => logs.filter((l) => l.path.startsWith('/vad/silero-vad-v5/') && l.status < 300).length;

  beforeAll(async () => {
    await buildWeb({ quiet: true, outDir: bundleDir, minify: false });
    const dump = await openSafetensorsFile(DUMP);
    const raw = await dump.read('input_samples');
    const samples = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    wav = Buffer.from(makeWav({ format: 3, bits: 32, rate: 16000, channels: 1, samples }));
    const ids = await dump.read('greedy_ids');
    golden = Array.from(new Int32Array(ids.buffer, ids.byteOffset, ids.byteLength / 4)).slice(0, -1); // last id: eos
    await dump.close();

    asr = await GlmAsr.load(MODEL, { precision: 'f32' });
    const logger = (line: string) => logs.push(JSON.parse(line) as LogLine);
    app = buildServer({ transcriber: asr, browserBundleDir: bundleDir, rateLimit: false, logger });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    if (!addr || typeof addr !== 'object') throw new Error('no address');
    base = `http://127.0.0.1:${addr.port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    mkdirSync(OUT, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.closeGracefully({ timeoutMs: 2000 });
    asr?.dispose();
    rmSync(bundleDir, { recursive: true, force: true });
  });

  function watch(page: Page): string[] {
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    return problems;
  }

  async function openBrowserMode(page: Page): Promise<void> {
    await page.goto(base);
    await page.waitForSelector('html[data-ready="true"]');
    await page.waitForSelector('html[data-browser-engine="ready"]');
    expect(await page.isEnabled('input[name="mode"][value="browser"]')).toBe(true);
    await page.check('input[name="mode"][value="browser"]');
    await page.waitForSelector('#browser-model', { state: 'visible' });
  }

  async function transcribeClip(page: Page): Promise<{ text: string; tokens: number[]; mode: string | null }> {
    await page.setInputFiles('#file-input', { name: 'funasr-sample.wav', mimeType: 'audio/wav', buffer: wav });
    await expect.poll(() => page.isEnabled('#transcribe-button')).toBe(true);
    await page.click('#transcribe-button');
    await page.waitForSelector('#result:not([hidden])', { timeout: 60_000 });
    expect(await page.isHidden('#error')).toBe(true);
    return {
      text: (await page.textContent('#result-text')) ?? '',
      tokens: JSON.parse((await page.getAttribute('#result', 'data-tokens')) ?? 'null') as number[],
      mode: await page.getAttribute('#result', 'data-mode'),
    };
  }

  it('in-browser mode: downloads the model and the VAD, caches the model, transcribes with VAD segments', async () => {
    const context = await browser.newContext({ viewport: { width: 900, height: 1000 } });
    const page = await context.newPage();
    const problems = watch(page);
    await openBrowserMode(page);
    expect(await page.inputValue('#model-url')).toBe(`${base}/models/tiny/`);
    expect(await page.textContent('#cache-status')).toContain('Nothing cached');

    // load explicitly: downloaded from the server's model route into Cache Storage
    await page.click('#load-model-button');
    await page.waitForSelector('html[data-model-loaded]', { timeout: 60_000 });
    expect(await page.getAttribute('html', 'data-model-loaded')).toBe('network');
    expect(await page.textContent('#model-status')).toMatch(/^Loaded .*models\/tiny\/ \(downloaded .* and cached\)/);
    const downloads = logs.filter((l) => l.path.startsWith('/models/'));
    expect(downloads.map((l) => l.path)).toContain('/models/tiny/model.safetensors');
    expect(downloads.every((l) => l.status === 200 || l.status === 404)).toBe(true);
    await expect.poll(() => page.textContent('#cache-status')).toMatch(/^Cached in this browser: \d+(\.\d)? (KB|MB)/);

    expect(await page.textContent('#model-status')).toContain('VAD segmentation');
    expect(vadRequests()).toBeGreaterThan(0);
    // The engine lives in its Web Worker: the bundle, started as a module worker.
    expect(page.workers().map((w) => new URL(w.url()).pathname)).toContain('/glm-asr.browser.js');

    const r = await transcribeClip(page);
    expect(r.mode).toBe('browser');
    expect(r.tokens.length).toBeGreaterThan(0);
    expect(r.text.length).toBeGreaterThan(0);
    const meta = await page.textContent('#result-meta');
    expect(meta).toContain('in this browser');
    expect(meta).not.toContain('fixed 30 s windows');
    browserText = r.text;
    browserTokens = r.tokens;
    // the JSON download carries the ids too
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
    expect(dl.suggestedFilename()).toBe('funasr-sample.json');
    await page.screenshot({ path: join(OUT, 'web-browser-mode.png'), fullPage: true });
    expect(problems).toEqual([]);
    // narrow screens: the model panel does not overflow
    await page.setViewportSize({ width: 360, height: 800 });
    const overflow = await page.evaluate(() => {
      const root = document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await page.setViewportSize({ width: 900, height: 1000 });

    // reload: the same context keeps Cache Storage, and the model comes from it without any request
    const before = modelRequests();
    await page.reload();
    await openBrowserMode(page);
    expect(await page.textContent('#cache-status')).toContain('Cached in this browser');
    // no "Load model" click this time: Transcribe loads the selected model first
    const again = await transcribeClip(page);
    expect(again.tokens).toEqual(browserTokens);
    expect(await page.getAttribute('html', 'data-model-loaded')).toBe('cache');
    expect(await page.textContent('#model-status')).toContain('from the browser cache, no download');
    expect(modelRequests()).toBe(before);

    // clear the cache
    await page.click('#clear-cache-button');
    await expect.poll(() => page.textContent('#cache-status')).toContain('Nothing cached');
    expect(await page.evaluate(async () => (await caches.keys()).length)).toBe(0);

    // a local folder (<input webkitdirectory>): read from disk, nothing fetched
    await page.check('input[name="model-source"][value="folder"]');
    expect(await page.isHidden('#model-url-field')).toBe(true);
    await page.setInputFiles('#model-folder', MODEL);
    await expect.poll(() => page.textContent('#model-folder-info')).toMatch(/^\d+ files, /);
    await page.click('#load-model-button');
    await expect.poll(() => page.getAttribute('html', 'data-model-loaded'), { timeout: 60_000 }).toBe('files');
    expect(await page.textContent('#model-status')).toMatch(/^Loaded tiny \(from the chosen folder\)/);
    expect(modelRequests()).toBe(before);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('in-browser mode without the VAD route: fixed 30 s windows, said in the result, the reference ids', async () => {
    const context = await browser.newContext();
    await context.route('**/vad/silero-vad-v5/**', (route) => route.abort());
    const page = await context.newPage();
    await openBrowserMode(page);
    await page.click('#load-model-button');
    await page.waitForSelector('html[data-model-loaded]', { timeout: 60_000 });
    expect(await page.textContent('#model-status')).toContain('fixed 30 s windows (no VAD weights)');
    const r = await transcribeClip(page);
    expect(r.tokens).toEqual(golden);
    expect(await page.textContent('#result-meta')).toContain('fixed 30 s windows (the VAD weights could not be');
    await context.close();
  });

  it('with an API key: the model route wants it, and the page sends it', async () => {
    const key = 'sk-web-test';
    const keyed = buildServer({
      transcriber: asr, apiKey: key, browserBundleDir: bundleDir, rateLimit: false, logger: false,
    });
    await keyed.listen({ host: '127.0.0.1', port: 0 });
    try {
      const url = `http://127.0.0.1:${(keyed.server.address() as { port: number }).port}`;
      const denied = await fetch(`${url}/models/tiny/config.json`);
      expect(denied.status).toBe(401);
      await denied.arrayBuffer();
      const vadDenied = await fetch(`${url}/vad/silero-vad-v5/config.json`);
      expect(vadDenied.status).toBe(401);
      await vadDenied.arrayBuffer();
      const page = await browser.newPage();
      const problems = watch(page);
      await page.goto(url);
      await page.waitForSelector('html[data-browser-engine="ready"]');
      await page.check('input[name="mode"][value="browser"]');
      await page.click('#load-model-button'); // no key yet
      await expect.poll(() => page.textContent('#model-status')).toContain('HTTP 401');
      await page.waitForSelector('#settings[open]'); // opened by the page: the server says a key is required
      await page.fill('#api-key', key);
      await page.click('#load-model-button');
      await expect.poll(() => page.getAttribute('html', 'data-model-loaded'), { timeout: 60_000 }).toBe('network');
      expect(await page.textContent('#model-status')).toContain('VAD segmentation'); // the key went to /vad/ too
      expect(problems.filter((p) => !p.includes('401'))).toEqual([]);
      await page.close();
    } finally {
      await keyed.close();
    }
  });

  it('says why the in-browser mode is off when the server has no browser bundle', async () => {
    const bare = buildServer({
      transcriber: asr, browserBundleDir: false, modelDir: false, rateLimit: false, logger: false,
    });
    await bare.listen({ host: '127.0.0.1', port: 0 });
    try {
      const addr = bare.server.address() as { port: number };
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${addr.port}`);
      await page.waitForSelector('html[data-ready="true"]');
      await expect.poll(() => page.textContent('#mode-note')).toContain('not built on this server');
      expect(await page.isDisabled('input[name="mode"][value="browser"]')).toBe(true);
      const res = await fetch(`http://127.0.0.1:${addr.port}/models/tiny/config.json`);
      expect(res.status).toBe(404);
      await res.arrayBuffer();
      await page.close();
    } finally {
      await bare.close();
    }
  });

  it('server mode: the upload flow gives the same text and ids as the in-browser mode (both VAD)', async () => {
    expect(browserText).not.toBe('');
    const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
    const problems = watch(page);
    await page.goto(base);
    await page.waitForSelector('html[data-ready="true"]');
    await page.waitForSelector('html[data-browser-engine="ready"]');
    expect(await page.isChecked('input[name="mode"][value="server"]')).toBe(true);
    expect(await page.isHidden('#browser-model')).toBe(true);
    const posts = logs.filter((l) => l.path === '/v1/audio/transcriptions').length;
    const r = await transcribeClip(page);
    expect(r.mode).toBe('server');
    expect(r.text).toBe(browserText);
    expect(r.tokens).toEqual(browserTokens); // one segment: verbose_json carries the ids
    expect(logs.filter((l) => l.path === '/v1/audio/transcriptions' && l.status === 200).length).toBe(posts + 1);
    expect(await page.textContent('#result-meta')).toContain('on the server');
    await page.screenshot({ path: join(OUT, 'web-server-mode.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('the API with segmenter=fixed gives the reference ids (fixed 30 s windows)', async () => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(wav)], { type: 'audio/wav' }), 'funasr-sample.wav');
    form.append('response_format', 'verbose_json');
    form.append('segmenter', 'fixed');
    const res = await fetch(`${base}/v1/audio/transcriptions`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { segments: { tokens: number[] }[] };
    expect(body.segments).toHaveLength(1);
    expect(body.segments[0].tokens).toEqual(golden);
  });

  it('model route: ranges, HEAD, only the checkpoint files', async () => {
    const size = statSync(join(MODEL, 'model.safetensors')).size;
    const url = `${base}/models/tiny/model.safetensors`;
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(size));
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    const part = await fetch(url, { headers: { Range: 'bytes=8-15' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 8-15/${size}`);
    expect((await part.arrayBuffer()).byteLength).toBe(8);
    const tail = await fetch(url, { headers: { Range: 'bytes=-4' } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe(`bytes ${size - 4}-${size - 1}/${size}`);
    await tail.arrayBuffer();
    const bad = await fetch(url, { headers: { Range: `bytes=${size}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${size}`);
    await bad.arrayBuffer();
    const cfg = await fetch(`${base}/models/tiny/config.json`);
    expect(cfg.headers.get('content-type')).toContain('application/json');
    expect(((await cfg.json()) as { model_type?: string }).model_type).toBeTruthy();
    const unknown = [
      '/models/tiny/README.md', '/models/tiny/..%2Fdumps%2Ftiny-en-ldc93s1.safetensors', '/models/other/config.json',
      '/models/tiny/model-1-of-2.safetensors',
    ];
    for (const p of unknown) {
      const res = await fetch(base + p);
      expect(res.status, p).toBe(404);
      await res.arrayBuffer();
    }
    const bundle = await fetch(`${base}/glm-asr.browser.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toContain('text/javascript');
    await bundle.arrayBuffer();
    const health = (await (await fetch(`${base}/health`)).json()) as { browser: { engine: string; modelUrl: string } };
    expect(health.browser).toEqual({ engine: 'glm-asr.browser.js', modelUrl: 'models/tiny/' });
  });
});
