// Vitest reporter used by scripts/test.sh: writes every skipped test and why to test-output/skipped.json, which
// test.sh prints before its summary line. The reason is the note of `ctx.skip(reason)` or the `skipReason` meta
// that test/helpers/skip.ts's `skipWhen(reason)` puts on a suite or test.
import { mkdirSync, writeFileSync } from 'node:fs';

export default class SkipReporter {
  onTestRunEnd(testModules) {
    const skipped = [];
    for (const mod of testModules) {
      for (const test of mod.children.allTests('skipped')) {
        skipped.push({
          project: test.project.name,
          file: mod.relativeModuleId,
          test: test.fullName,
          reason: test.result().note ?? test.meta().skipReason ?? null,
        });
      }
    }
    mkdirSync('test-output', { recursive: true });
    writeFileSync('test-output/skipped.json', JSON.stringify(skipped, null, 2) + '\n');
  }
}
