/**
 * `glm-asr eval` as a user runs it, with the demo model on its bundled held-out clips (which it recognises
 * exactly: models/demo/samples/reference-ids.json): the totals for expected.json, hand-computed substitution /
 * deletion / insertion counts for a CSV manifest with altered references, a folder manifest, a file that fails,
 * the progress line on a terminal, and the exit codes for bad usage and an unloadable model.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../audio/helpers';

const SAMPLES = join(REPO, 'models/demo/samples');
const MODEL = ['--model', 'demo', '--max-new-tokens', '40'];

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'eval', ...args], {
    cwd: REPO, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('glm-asr eval', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glm-asr-eval-'));

  it('expected.json of the demo samples, fixed windows: 6 files, 27 words, no errors (--format json)', () => {
    // The reference ids were made on whole clips, which --segmenter fixed transcribes as they are.
    const r = cli([join(SAMPLES, 'expected.json'), ...MODEL, '--segmenter', 'fixed', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.total).toMatchObject({
      files: 6, wer: 0, cer: 0, words: { ref: 27, hyp: 27, sub: 0, del: 0, ins: 0, errors: 0 },
    });
    expect(out.files).toHaveLength(6);
    expect(out.files[1]).toMatchObject({
      audio: join(SAMPLES, 'digits-oh.wav'), language: 'en', reference: 'four seven two oh six three',
      hypothesis: 'four seven two oh six three', wer: 0,
    });
    expect(out.failed).toEqual([]);
  });

  it('--max-batch 3 (files at once, batched by the engine): the same rows, in manifest order', () => {
    const run = (batch: string) => {
      const r = cli([join(SAMPLES, 'expected.json'), ...MODEL, '--segmenter', 'fixed', '--format', 'json',
        '--max-batch', batch]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const one = run('1');
    const three = run('3');
    const audio = (out: { files: { audio: string }[] }) => out.files.map((f) => f.audio);
    expect(audio(three)).toEqual(audio(one));
    expect(three).toEqual(one);
  });

  it('a CSV manifest with altered references: S/D/I as computed by hand; a missing file fails with exit 1', () => {
    const csv = join(dir, 'altered.csv');
    writeFileSync(csv, [
      'audio,text,language',
      `${join(SAMPLES, 'digits-oh.wav')},"Four, seven, two, oh, six, three, nine.",en`, // said without "nine": D 1
      `${join(SAMPLES, 'number-slow-tempo.wav')},seven,`, // "eighty seven": I 1
      `${join(SAMPLES, 'command-bandpass.wav')},set a timer,en`, // "set an alarm": S 2
      'missing.wav,one two,en',
    ].join('\n'));
    const r = cli([csv, ...MODEL]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(dir, 'missing.wav'));
    const rows = r.stdout.trim().split('\n');
    // WER CER words sub del ins lang file; the total: 11 words, 2 + 1 + 1 errors
    expect(rows[1]).toMatch(/^ +14\.3% +[\d.]+% +7 +0 +1 +0 en +.*digits-oh\.wav$/);
    expect(rows[2]).toMatch(/^ +100\.0% +[\d.]+% +1 +0 +0 +1 en +.*number-slow-tempo\.wav$/);
    expect(rows[3]).toMatch(/^ +66\.7% +[\d.]+% +3 +2 +0 +0 en +.*command-bandpass\.wav$/);
    expect(rows[4]).toMatch(/^ +36\.4% +[\d.]+% +11 +2 +1 +1 total \(3 files\)$/);
    expect(rows[5]).toBe('1 file(s) failed and are not counted');
  });

  it('a folder with a .txt beside each audio file', () => {
    const folder = join(dir, 'folder');
    spawnSync('mkdir', [folder]);
    copyFileSync(join(SAMPLES, 'command-hum.wav'), join(folder, 'hum.wav'));
    writeFileSync(join(folder, 'hum.txt'), 'Close the door!\n');
    copyFileSync(join(SAMPLES, 'digits-brown-noise.wav'), join(folder, 'noise.wav'));
    writeFileSync(join(folder, 'noise.txt'), 'seven two seven eight three oh'); // said with a final "two": I 1
    const r = cli([folder, ...MODEL, '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const files = out.files.map((f: { audio: string }) => f.audio);
    expect(files).toEqual([join(folder, 'hum.wav'), join(folder, 'noise.wav')]);
    expect(out.total.words).toEqual({ ref: 9, hyp: 10, sub: 0, del: 0, ins: 1, errors: 1 });
  });

  it('progress on a terminal only', () => {
    const args = [join(SAMPLES, 'expected.json'), ...MODEL];
    expect(cli(args).stderr).not.toMatch(/\[[#.]+\]/);
    const cmd = [process.execPath, '--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'eval', ...args]
      .map((a) => `'${a}'`).join(' ');
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    expect(tty.status).toBe(0);
    const last = 'models/demo/samples/number-slow-tempo.wav';
    expect(tty.stdout).toContain(`[6/6] ${last} generate [`);
    expect(tty.stdout).toMatch(/\] \d+\/40 tokens/);
  });

  it('bad usage exits 2 with one line naming the problem; a model that does not load exits 3', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '[{"audio": "a.wav", "text": "x", "language": "fr"}]');
    const r = cli([bad, ...MODEL]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`glm-asr: ${bad}: entry 0: language must be one of en, zh, yue, got "fr" ` +
      '(glm-asr --help shows the usage)\n');
    expect(cli([join(dir, 'nope.csv'), ...MODEL]).stderr).toMatch(/nope\.csv: no such file or folder/);
    expect(cli([join(SAMPLES, 'expected.json'), ...MODEL, '--format', 'srt']).code).toBe(2);
    const seg = cli([join(SAMPLES, 'expected.json'), ...MODEL, '--segmenter', 'energy']);
    expect(seg.code).toBe(2);
    expect(seg.stderr).toMatch(/--segmenter must be one of vad, fixed, got "energy"/);
    expect(cli(MODEL).code).toBe(2);
    expect(cli([join(SAMPLES, 'expected.json')]).stderr).toMatch(/--model is required/);
    const noModel = cli([join(SAMPLES, 'expected.json'), '--model', dir]);
    expect(noModel.code).toBe(3);
    expect(noModel.stderr).toMatch(/cannot load model/);
  });
});
