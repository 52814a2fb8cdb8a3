// Vitest reporter used by scripts/test.sh. Writes $RUN_REPORT (default test-output/run-report.json) with what
// vitest's own JSON report does not make plain, for scripts/summarize-tests.mjs:
// - every skipped test and why: the note of `ctx.skip(reason)` or the `skipReason` meta that
//   test/helpers/skip.ts's `skipWhen(reason)` puts on a suite or test;
// - every test that never finished (its file's worker died under it, or the run was cut short), by name;
// - every error vitest caught outside a test (a worker that exited unexpectedly, an unhandled rejection).
// The last two count as failures: a run that loses a test has not shown that it passes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export default class RunReporter {
  onTestRunEnd(testModules, unhandledErrors = []) {
    const skipped = [];
    const unfinished = [];
    for (const mod of testModules) {
      const moduleState = mod.state();
      if (moduleState === 'queued' || moduleState === 'pending') {
        unfinished.push({ project: mod.project.name, file: mod.relativeModuleId, test: '(the whole file)' });
        continue;
      }
      for (const test of mod.children.allTests()) {
        const entry = { project: test.project.name, file: mod.relativeModuleId, test: test.fullName };
        const state = test.result().state;
        if (state === 'skipped') {
          skipped.push({ ...entry, reason: test.result().note ?? test.meta().skipReason ?? null });
        } else if (state === 'pending') {
          unfinished.push(entry);
        }
      }
    }
    const errors = unhandledErrors.map((e) => {
      const cause = e.cause?.message ? ` (${e.cause.message})` : '';
      return `${e.name ?? 'Error'}: ${e.message ?? String(e)}${cause}`;
    });
    const out = process.env.RUN_REPORT || 'test-output/run-report.json';
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify({ skipped, unfinished, errors }, null, 2) + '\n');
  }
}
