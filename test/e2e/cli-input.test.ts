/**
 * The CLI's answers to bad usage and to inputs that are not ordinary audio files. Usage errors exit 2 with one
 * line and no stack trace, before anything is loaded: the model given is a folder that does not exist, so a
 * check made after loading would exit 3 instead. Inputs are read with a bound: devices and directories are
 * refused, a pipe is read up to --max-input-mb, a regular file over the bound is refused by its size.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../audio/helpers';

const NO_MODEL = '/nonexistent/glm-asr-model';
const CLIP = join(REPO, 'models/demo/samples/command-hum.wav');
const expected: Record<string, string> =
  JSON.parse(readFileSync(join(REPO, 'models/demo/samples/expected.json'), 'utf8'));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], {
    cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI's own lines on stderr (Dawn prints its warnings there too). */
const ownLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('glm-asr:'));

describe('glm-asr usage errors: exit 2, one line, before loading', () => {
  const t = (...args: string[]) => ['transcribe', CLIP, '--model', NO_MODEL, ...args];
  const cases: [string[], RegExp, Record<string, string>?][] = [
    [t('--beams', '-1'), /--beams must be an integer from 1 to 64, got "-1"/],
    [t('--beams', '1000'), /--beams must be an integer from 1 to 64, got "1000"/],
    [t('--max-new-tokens', '0'), /--max-new-tokens must be a positive integer/],
    [t('--max-new-tokens', '-1'), /--max-new-tokens must be a positive integer/],
    [t('--max-new-tokens', '1.5'), /--max-new-tokens must be a positive integer/],
    [t('--max-input-mb', '0'), /--max-input-mb must be an integer from 1/],
    [t('--precision', 'bogus'), /--precision must be one of auto, f32, f16, int8, int4/],
    [t('--max-chunk-seconds', '1.5'), /--max-chunk-seconds must be a number of seconds ≥ 2, got "1.5"/],
    [t('--max-chunk-seconds', 'ten'), /--max-chunk-seconds must be a number of seconds ≥ 2, got "ten"/],
    [['eval', CLIP, '--model', NO_MODEL, '--max-chunk-seconds', ''], /--max-chunk-seconds must be a number/],
    [t('--frobnicate'), /unknown option --frobnicate/],
    [['transcribe', CLIP, '--model'], /--model/],
    [['serve', '--model', NO_MODEL, '--port', '99999'], /--port must be an integer from 0 to 65535, got "99999"/],
    [['serve', '--model', NO_MODEL, '--port', '80.5'], /--port must be an integer/],
    [['serve', '--model', NO_MODEL, '--api-key', ''], /--api-key is empty/],
    [['serve', '--model', NO_MODEL], /GLM_ASR_API_KEY is empty/, { GLM_ASR_API_KEY: '' }],
    [['serve', '--model', NO_MODEL, '--precision', 'bogus'], /--precision must be one of/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ];
  for (const [args, message, env] of cases) {
    const name = args.map((a) => (a === CLIP ? 'clip.wav' : a === NO_MODEL ? 'NO_MODEL' : a || '""')).join(' ');
    it(`${name}${env ? ` with ${JSON.stringify(env)}` : ''}`, () => {
      const r = cli(args, env);
      expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^glm-asr: /);
      expect(lines[0]).toMatch(message);
      expect(r.code).toBe(2);
    });
  }
});

describe('glm-asr usage errors the loaded model decides', () => {
  it('--max-new-tokens beyond the decoder: exit 2 with one line, no file is transcribed', () => {
    const r = cli(['transcribe', CLIP, CLIP, '--model', 'demo', '--max-new-tokens', '100000', '--quiet']);
    expect(ownLines(r.stderr)).toEqual([
      `glm-asr: --max-new-tokens: maxNewTokens must be an integer in [1, 8192] (the decoder's positions), got 100000`,
    ]);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(2);
  });

  it('--max-chunk-seconds beyond the window: exit 2 with one line', () => {
    const r = cli(['transcribe', CLIP, '--model', 'demo', '--max-chunk-seconds', '31', '--quiet']);
    expect(ownLines(r.stderr)).toEqual([
      `glm-asr: --max-chunk-seconds: maxChunkSeconds must be a number in [2, 30] (the model's window), got 31`,
    ]);
    expect(r.code).toBe(2);
  });
});

describe('glm-asr inputs are read with a bound', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glm-asr-input-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a device and a directory, and transcribes the other files', () => {
    const r = cli(['transcribe', '/dev/zero', dir, CLIP, '--model', 'demo', '--quiet']);
    expect(ownLines(r.stderr)).toEqual([
      'glm-asr: /dev/zero: is a character device, not an audio file (a regular file or a pipe)',
      `glm-asr: ${dir}: is a directory, not an audio file (a regular file or a pipe)`,
    ]);
    expect(r.stdout.trim()).toBe(`${CLIP}: ${expected['command-hum.wav']}`);
    expect(r.code).toBe(1);
  });

  it('refuses a regular file over --max-input-mb by its size, without reading it', () => {
    const big = join(dir, 'big.wav');
    writeFileSync(big, readFileSync(CLIP));
    const r = cli(['transcribe', big, '--model', 'demo', '--max-input-mb', '1', '--quiet']);
    const mib = (readFileSync(CLIP).length / 2 ** 20).toFixed(1);
    // The clip is under 1 MiB: the bound must let it through, and a 2 MiB sparse file must not.
    expect(Number(mib)).toBeLessThan(1);
    expect(r.code).toBe(0);
    spawnSync('truncate', ['-s', '2M', big]);
    const over = cli(['transcribe', big, '--model', 'demo', '--max-input-mb', '1', '--quiet']);
    expect(ownLines(over.stderr)).toEqual([`glm-asr: ${big}: is 2.0 MiB, over the 1 MiB limit (--max-input-mb)`]);
    expect(over.code).toBe(1);
  });

  it('reads a FIFO to its end, and stops one that carries more than --max-input-mb', async () => {
    const fifo = join(dir, 'clip.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const feed = (cmd: string) => spawn('sh', ['-c', `${cmd} > '${fifo}'`], { stdio: 'ignore' });
    const writer = feed(`cat '${CLIP}'`);
    const ok = await cliAsync(['transcribe', fifo, '--model', 'demo', '--quiet']);
    writer.kill();
    expect(ok.stdout.trim()).toBe(expected['command-hum.wav']);
    expect(ok.code).toBe(0);
    const flood = feed('cat /dev/zero');
    const over = await cliAsync(['transcribe', fifo, '--model', 'demo', '--max-input-mb', '2', '--quiet']);
    flood.kill();
    expect(ownLines(over.stderr)).toEqual([`glm-asr: ${fifo}: holds more than the 2 MiB limit (--max-input-mb)`]);
    expect(over.code).toBe(1);
  });
});

/** As `cli`, without blocking the event loop (a writer process feeds a FIFO meanwhile). */
function cliAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], { cwd: REPO });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
