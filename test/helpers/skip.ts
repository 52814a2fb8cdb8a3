/**
 * Skipping with a reason. scripts/test.sh lists every skipped test with its reason (scripts/run-reporter.mjs):
 * inside a test, `ctx.skip(reason)`; for a whole `describe` or `it` decided at collection time, pass
 * `skipWhen(reason)` as its options. A test never skips silently (no bare `return`, no reason-less `skipIf`).
 *
 * @example
 * describe('demo training mix', skipWhen(missingTools([TORCH])), () => { ... });
 */
import type { TestOptions } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** Why the test (or every test of the suite) is skipped; read by scripts/run-reporter.mjs. */
    skipReason?: string;
  }
}

/** Options that skip the suite or test when `reason` is a non-empty string, carrying the reason to the report. */
export function skipWhen(reason: string | null | undefined): TestOptions {
  return reason ? { skip: true, meta: { skipReason: reason } } : {};
}
