// Prints expected vs recognised text for the README's main job: reads the CLI's `--format json` lines on
// stdin and the expected transcripts (any JSON manifest `glm-asr eval` reads: an object file name -> text, or the
// corpus manifest), matched by file name. Scored by the library's WER module (src/eval/wer.ts), like `glm-asr eval`.
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { tsImport } from 'tsx/esm/api';

const { addCounts, errorRate, errors, score } = await tsImport('../src/eval/wer.ts', import.meta.url);
const { parseJsonManifest } = await tsImport('../src/eval/manifest.ts', import.meta.url);

const expected = {};
for (const file of process.argv.slice(2)) {
  for (const e of parseJsonManifest(readFileSync(file, 'utf8'), resolve(file)).entries) {
    expected[basename(e.audio)] = e.text;
  }
}
const lines = readFileSync(0, 'utf8').split('\n').filter(Boolean);
if (!lines.length) {
  console.error('show-demo: no transcriptions on stdin (the CLI failed before printing any)');
  process.exit(1);
}
let total = { ref: 0, hyp: 0, sub: 0, del: 0, ins: 0 };
for (const line of lines) {
  const r = JSON.parse(line);
  const name = basename(r.file);
  const want = expected[name];
  console.log(`${name}\n  expected:   ${want ?? '(no transcript)'}\n  recognised: ${r.text}`);
  if (want !== undefined) {
    const { words } = score(want, r.text);
    const e = errors(words);
    total = addCounts(total, words);
    console.log(`  ${e === 0 ? 'exact' : `${e} word error${e === 1 ? '' : 's'}`}`);
  }
}
if (total.ref) {
  const wer = (100 * errorRate(total)).toFixed(1);
  console.log(`\n${lines.length} clips, word error rate ${wer} % (${errors(total)} / ${total.ref} words)`);
}
