// Prints expected vs recognised text for the README's main job: reads the CLI's `--format json` lines on
// stdin and the expected transcripts (a JSON object file name -> text, or the corpus manifest's clips list).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const expected = {};
for (const file of process.argv.slice(2)) {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  if (Array.isArray(j.clips)) for (const c of j.clips) expected[basename(c.file)] = c.transcript;
  else Object.assign(expected, j);
}
const norm = (s) => s.toLowerCase().replace(/[^a-z0-9' ]+/g, ' ').trim().split(/\s+/).filter(Boolean);
function wordErrors(a, b) {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}
let errors = 0;
let words = 0;
const lines = readFileSync(0, 'utf8').split('\n').filter(Boolean);
if (!lines.length) {
  console.error('show-demo: no transcriptions on stdin (the CLI failed before printing any)');
  process.exit(1);
}
for (const line of lines) {
  const r = JSON.parse(line);
  const name = basename(r.file);
  const want = expected[name];
  console.log(`${name}\n  expected:   ${want ?? '(no transcript)'}\n  recognised: ${r.text}`);
  if (want !== undefined) {
    const e = wordErrors(norm(want), norm(r.text));
    errors += e;
    words += norm(want).length;
    console.log(`  ${e === 0 ? 'exact' : `${e} word error${e === 1 ? '' : 's'}`}`);
  }
}
if (words) console.log(`\n${lines.length} clips, word error rate ${((100 * errors) / words).toFixed(1)} % (${errors} / ${words} words)`);
