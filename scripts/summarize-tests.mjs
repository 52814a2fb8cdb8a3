// The end of scripts/test.sh: reads vitest's JSON report and scripts/run-reporter.mjs's report of the first run
// (test-output/{vitest,run-report}-first.json) and, when there was one, of the rerun of the files whose worker
// died (…-rerun.json), prints the skipped tests with their reasons, the tests that never finished and the errors
// outside tests, and ends with "N passed, N failed[, N skipped][, N files rerun after a worker died]".
// Exits 1 when anything failed.
//
//   node scripts/summarize-tests.mjs               the summary
//   node scripts/summarize-tests.mjs --died-in     the files to rerun, one per line (from the first run)
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

const WORKER_DIED = /Worker exited unexpectedly/;

function load(run) {
  const vitestPath = `test-output/vitest-${run}.json`;
  if (!existsSync(vitestPath)) return null;
  const vitest = JSON.parse(readFileSync(vitestPath, 'utf8'));
  const reportPath = `test-output/run-report-${run}.json`;
  const report = existsSync(reportPath) ? JSON.parse(readFileSync(reportPath, 'utf8'))
    : { skipped: [], unfinished: [], errors: ['scripts/run-reporter.mjs wrote no report'] };
  return { vitest, report };
}

const first = load('first');
const diedIn = first ? [...new Set(first.report.unfinished.map((u) => u.file))] : [];
if (process.argv.includes('--died-in')) {
  if (diedIn.length) console.log(diedIn.join('\n'));
  process.exit(0);
}
if (!first) {
  console.log('vitest wrote no JSON report');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const rerun = diedIn.length ? load('rerun') : null;
const replaced = new Set(rerun ? diedIn : []);
const keep = (file) => !replaced.has(file);

let passed = 0;
let failed = 0;
const count = (vitest, filter) => {
  for (const f of vitest.testResults) {
    if (!filter(relative(process.cwd(), f.name))) continue;
    passed += f.assertionResults.filter((a) => a.status === 'passed').length;
    failed += f.assertionResults.filter((a) => a.status === 'failed').length;
    if (f.status === 'failed' && f.assertionResults.length === 0) failed += 1; // a file that failed to load
  }
};
count(first.vitest, keep);
const skipped = first.report.skipped.filter((s) => keep(s.file));
let unfinished = first.report.unfinished;
// A worker's death is reported once as an error of the run; the rerun of its files stands in for it.
let errors = rerun ? first.report.errors.filter((e) => !WORKER_DIED.test(e)) : first.report.errors;
if (diedIn.length && !rerun) errors = [...errors, 'the rerun of the files whose worker died wrote no report'];
if (rerun) {
  count(rerun.vitest, () => true);
  skipped.push(...rerun.report.skipped);
  unfinished = rerun.report.unfinished;
  errors = [...errors, ...rerun.report.errors];
}

if (skipped.length) console.log('\nSkipped tests and why:');
for (const s of skipped) {
  console.log(`  [${s.project}] ${s.file} > ${s.test}\n      ${s.reason ?? '(no reason given)'}`);
}
if (diedIn.length) {
  console.log('\nA test worker died (a native crash, backtrace above) in these files; they were run once more:');
  for (const f of diedIn) console.log(`  ${f}`);
}
if (unfinished.length) console.log('\nTests that never finished (counted as failed):');
for (const u of unfinished) console.log(`  [${u.project}] ${u.file} > ${u.test}`);
if (errors.length) console.log('\nErrors outside any test (each counted as failed):');
for (const e of errors) console.log(`  ${e}`);
failed += unfinished.length + errors.length;

const rest = (skipped.length ? `, ${skipped.length} skipped` : '') +
  (diedIn.length ? `, ${diedIn.length} file${diedIn.length > 1 ? 's' : ''} rerun after a worker died` : '');
console.log(`${passed} passed, ${failed} failed${rest}`);
process.exit(failed ? 1 : 0);
