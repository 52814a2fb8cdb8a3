/**
 * The web page in headless Chromium against a server with the fake transcriber: upload a WAV
 * through the file input, wait for the transcript, check the segments, save a screenshot.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeText } from './fake-transcriber';
import { makeWav, startTestServer, type TestServer } from './helpers';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--enable-unsafe-webgpu'];
const KEY = 'sk-ui-test-key';

describe.skipIf(!existsSync(CHROMIUM))('web page (headless Chromium)', () => {
  let srv: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    srv = await startTestServer({ apiKey: KEY, delayMs: 800, browserBundleDir: false });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('uploads a WAV through the file input and shows the transcript', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && !m.text().includes('401') && problems.push(`console: ${m.text()}`));

    await page.goto(srv.base);
    await page.waitForSelector('html[data-ready="true"]');
    await expect.poll(() => page.textContent('#server-status')).toContain('glm-asr-nano-2512');
    // the key field is announced as required and the settings are open
    expect(await page.textContent('#api-key-required')).toContain('required');
    expect(await page.getAttribute('#settings', 'open')).not.toBeNull();
    // the in-browser mode is disabled with an explanation
    expect(await page.isDisabled('input[name="mode"][value="browser"]')).toBe(true);
    expect((await page.textContent('#mode-note'))!.length).toBeGreaterThan(10);

    // first without the key: 401 shown in the page
    const wav = makeWav(2, 77);
    await page.setInputFiles('#file-input', { name: 'hello.wav', mimeType: 'audio/wav', buffer: Buffer.from(wav) });
    await expect.poll(() => page.isEnabled('#transcribe-button')).toBe(true);
    await page.click('#transcribe-button');
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toContain('API key');

    // with the key (accessible label lookup)
    await page.getByLabel(/API key/).fill(KEY);
    await page.click('#transcribe-button');
    await page.waitForSelector('#spinner', { state: 'visible' }); // queued/transcribing state is shown
    expect(await page.textContent('#status')).toMatch(/^Transcribing/);
    expect(await page.isVisible('#cancel-button')).toBe(true);
    await page.waitForSelector('#result:not([hidden])');
    expect(await page.textContent('#result-text')).toBe(fakeText(wav));
    expect(await page.locator('#segments li').count()).toBe(2);
    expect(await page.textContent('#segments li:first-child time')).toBe('0:00.0 – 0:01.0');
    expect(await page.isHidden('#error')).toBe(true);
    // remembered for the next visit
    expect(await page.evaluate(() => localStorage.getItem('glm-asr.apiKey'))).toBe(KEY);

    // downloads carry the right content
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-srt')]);
    expect(dl.suggestedFilename()).toBe('hello.srt');

    mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/server-ui.png', fullPage: true });
    expect(problems).toEqual([]);

    // narrow screens: nothing overflows horizontally
    await page.setViewportSize({ width: 360, height: 800 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.close();
  });

  it('records from the (fake) microphone, encodes a 16 kHz WAV and transcribes it', async () => {
    const micBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'],
    });
    try {
      const context = await micBrowser.newContext();
      await context.grantPermissions(['microphone'], { origin: srv.base });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.addInitScript((key) => localStorage.setItem('glm-asr.apiKey', key), KEY);
      await page.goto(srv.base);
      await page.waitForSelector('html[data-ready="true"]');
      await page.click('#record-button');
      await expect.poll(() => page.getAttribute('#record-button', 'aria-pressed')).toBe('true');
      await page.waitForTimeout(1200);
      await page.click('#record-button');
      await page.waitForSelector('#selected:not([hidden])');
      expect(await page.textContent('#selected-name')).toMatch(/^recording-\d{8}-\d{6}\.wav$/);
      const before = srv.fake.calls.length;
      await page.click('#transcribe-button');
      await page.waitForSelector('#result:not([hidden])');
      expect(srv.fake.calls.length).toBe(before + 1);
      const line = srv.logs.map((l) => JSON.parse(l)).filter((l) => l.path === '/v1/audio/transcriptions').at(-1);
      expect(line.status).toBe(200);
      expect(line.audioSec).toBeGreaterThan(0.6);
      expect(line.audioSec).toBeLessThan(3);
      // 16 kHz mono 16-bit: 32 000 bytes per second (+ headers)
      expect(line.bytesIn / line.audioSec).toBeGreaterThan(31_000);
      expect(line.bytesIn / line.audioSec).toBeLessThan(40_000);
      expect(errors).toEqual([]);
    } finally {
      await micBrowser.close();
    }
  });

  it("the page's resampler keeps speech-band tones and suppresses what would alias", async () => {
    const page = await browser.newPage();
    await page.goto(srv.base);
    // A string, so that vitest's transform leaves the dynamic import alone.
    const r = await page.evaluate(`(async () => {
      const { resample, encodeWav } = await import('/audio.js');
      const tone = (hz, rate, n) => Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * hz * i) / rate));
      const rms = (x) => Math.sqrt(x.slice(200, -200).reduce((a, v) => a + v * v, 0) / (x.length - 400));
      const pass = resample(tone(1000, 48000, 48000), 48000, 16000);
      const stop = resample(tone(12000, 48000, 48000), 48000, 16000); // would fold to 4 kHz
      const odd = resample(tone(440, 44100, 44100), 44100, 16000);
      const wav = new Uint8Array(await encodeWav(Float32Array.from([0, 1, -1]), 16000).arrayBuffer());
      return { len: pass.length, pass: rms(pass), stop: rms(stop), oddLen: odd.length, odd: rms(odd), wavLen: wav.length, tail: Array.from(wav.slice(44)) };
    })()`) as { len: number; pass: number; stop: number; oddLen: number; odd: number; wavLen: number; tail: number[] };
    expect(r.len).toBe(16000);
    expect(r.pass).toBeGreaterThan(0.69); // 1/√2 ≈ 0.707
    expect(r.stop).toBeLessThan(0.01);
    expect(r.oddLen).toBe(16000);
    expect(r.odd).toBeGreaterThan(0.69);
    expect(r.wavLen).toBe(50);
    expect(r.tail).toEqual([0, 0, 0xff, 0x7f, 0x00, 0x80]);
    await page.close();
  });

  it('explains when navigator.gpu is missing', async () => {
    const page = await browser.newPage();
    await page.addInitScript(() => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      delete (Navigator.prototype as any).gpu;
    });
    await page.goto(srv.base);
    await page.waitForSelector('html[data-ready="true"]');
    expect(await page.textContent('#mode-note')).toContain('navigator.gpu is missing');
    await page.close();
  });
});
