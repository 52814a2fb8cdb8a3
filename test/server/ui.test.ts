/**
 * The web page in headless Chromium against a server with the fake transcriber: upload a WAV
 * through the file input, wait for the transcript, check the segments and the .srt download, record from
 * the fake microphone, save a screenshot; and what the page keeps working without the library bundle.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs build script without types
import { buildWeb } from '../../scripts/build-web.mjs';
import { REPO } from '../audio/helpers';
import { skipWhen } from '../helpers/skip';
import { fakeText } from './fake-transcriber';
import { makeWav, postAudio, startTestServer, type TestServer } from './helpers';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic', '--enable-unsafe-webgpu',
];
const KEY = 'sk-ui-test-key';
const NO_CHROMIUM = existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (bash scripts/setup.sh installs chromium)`;

// The page takes the library's code (output formats, resampler, WAV encoder) from the browser bundle only
// (web/library.js, docs/web.md); a function of the same name written again in web/ would be a second copy.
describe('the page keeps no copy of the library', () => {
  it("defines none of the library's format, resampling or WAV functions", () => {
    const libraryFiles = ['src/formats.ts', 'src/audio/resample.ts', 'src/audio/wav-encode.ts'];
    const names = libraryFiles.flatMap((f) =>
      [...readFileSync(join(REPO, f), 'utf8').matchAll(/^export (?:function|class) (\w+)/gm)].map((m) => m[1]));
    expect(names).toEqual(expect.arrayContaining(['toSrt', 'toVtt', 'formatTimestamp', 'resample', 'encodeWav']));
    const web = join(REPO, 'web');
    for (const file of readdirSync(web).filter((f) => f.endsWith('.js'))) {
      const src = readFileSync(join(web, file), 'utf8');
      for (const name of names) {
        const definition = new RegExp(`(function\\s+|(const|let|var)\\s+)${name}\\b`);
        expect(src, `web/${file} defines ${name}`).not.toMatch(definition);
      }
      expect(src, `web/${file} writes a RIFF header`).not.toContain("'RIFF'");
    }
  });
});

describe('web page (headless Chromium)', skipWhen(NO_CHROMIUM), () => {
  let srv: TestServer;
  let browser: Browser;
  const bundleDir = mkdtempSync(join(tmpdir(), 'glm-asr-ui-'));

  beforeAll(async () => {
    await buildWeb({ quiet: true, outDir: bundleDir });
    srv = await startTestServer({ apiKey: KEY, delayMs: 800, browserBundleDir: bundleDir });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    rmSync(bundleDir, { recursive: true, force: true });
  });

  it('uploads a WAV through the file input and shows the transcript', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().includes('401')) problems.push(`console: ${m.text()}`);
    });

    // the upload's form fields (Playwright does not show multipart bodies that carry a Blob)
    await page.addInitScript(() => {
      const fields: string[] = [];
      (window as unknown as { formFields: string[] }).formFields = fields;
      const append = FormData.prototype.append;
      FormData.prototype.append = function (this: FormData, ...args: Parameters<FormData['append']>) {
        fields.push(args[0]);
        return append.apply(this, args);
      } as FormData['append'];
    });

    await page.goto(srv.base);
    await page.waitForSelector('html[data-ready="true"]');
    await expect.poll(() => page.textContent('#server-status')).toContain('glm-asr-nano-2512');
    // the key field is announced as required and the settings are open
    expect(await page.textContent('#api-key-required')).toContain('required');
    expect(await page.getAttribute('#settings', 'open')).not.toBeNull();

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
    // no segmenter field: the server's default, the VAD, as the in-browser mode uses (docs/web.md)
    const fields = await page.evaluate(() => (window as unknown as { formFields: string[] }).formFields);
    expect(fields).toContain('response_format');
    expect(fields).not.toContain('segmenter');
    expect(await page.locator('#segments li').count()).toBe(2);
    expect(await page.textContent('#segments li:first-child time')).toBe('0:00.0 – 0:01.0');
    expect(await page.isHidden('#error')).toBe(true);
    // remembered for the next visit
    expect(await page.evaluate(() => localStorage.getItem('glm-asr.apiKey'))).toBe(KEY);

    // the .srt download is the library's SubRip: the same as the server's response_format=srt for this audio
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-srt')]);
    expect(dl.suggestedFilename()).toBe('hello.srt');
    const srt = readFileSync((await dl.path())!, 'utf8');
    const fromServer = await postAudio(srv.base, wav, { response_format: 'srt' }, { key: KEY });
    expect(fromServer.status).toBe(200);
    expect(srt).toBe(await fromServer.text());
    expect(srt).toMatch(/^1\n00:00:00,000 --> 00:00:01,000\n/);

    mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/server-ui.png', fullPage: true });
    expect(problems).toEqual([]);

    // narrow screens: nothing overflows horizontally
    await page.setViewportSize({ width: 360, height: 800 });
    const overflow = await page.evaluate(() => {
      const root = document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await page.close();
  });

  // Chromium captures at 16 kHz when asked; where a browser cannot, the page resamples (the library's resampler).
  it.each([
    ['captured at 16 kHz', false],
    ['captured at the device rate and resampled', true],
  ])('records from the (fake) microphone (%s), encodes a 16 kHz WAV and transcribes it', async (_, nativeRate) => {
    const micBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        ...ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    try {
      const context = await micBrowser.newContext();
      await context.grantPermissions(['microphone'], { origin: srv.base });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.addInitScript((key) => localStorage.setItem('glm-asr.apiKey', key), KEY);
      if (nativeRate) {
        await page.addInitScript(() => {
          // a browser that ignores the requested rate (the context runs at the device's)
          const Native = window.AudioContext;
          window.AudioContext = class extends Native {
            constructor() {
              super();
            }
          };
        });
      }
      await page.goto(srv.base);
      await page.waitForSelector('html[data-ready="true"]');
      const rate = await page.evaluate(() => new AudioContext({ sampleRate: 16000 }).sampleRate);
      expect(rate === 16000).toBe(!nativeRate);
      await expect.poll(() => page.isEnabled('#record-button')).toBe(true);
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

  it('without the library bundle: server mode transcribes; recording, .srt and WebGPU say why not', async () => {
    const bare = await startTestServer({ browserBundleDir: false });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      await page.goto(bare.base);
      await page.waitForSelector('html[data-ready="true"]');
      await expect.poll(() => page.textContent('#mode-note')).toContain('not built on this server');
      expect(await page.textContent('#mode-note')).toContain('npm run build');
      expect(await page.isDisabled('input[name="mode"][value="browser"]')).toBe(true);
      expect(await page.isDisabled('#record-button')).toBe(true);
      expect(await page.textContent('#record-label')).toContain('npm run build');
      const wav = makeWav(1, 5);
      await page.setInputFiles('#file-input', { name: 'bare.wav', mimeType: 'audio/wav', buffer: Buffer.from(wav) });
      await page.click('#transcribe-button');
      await page.waitForSelector('#result:not([hidden])');
      expect(await page.textContent('#result-text')).toBe(fakeText(wav));
      expect(await page.isDisabled('#download-srt')).toBe(true);
      expect(await page.isEnabled('#download-json')).toBe(true);
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await bare.close();
    }
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
