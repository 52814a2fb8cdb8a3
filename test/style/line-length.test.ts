import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The developers' guide caps source lines at this many characters. */
const MAX_LINE = 120;
const SOURCE_GLOBS = ['*.ts', '*.mjs', '*.js', '*.wgsl', '*.py', '*.sh'];
/** Committed data, not hand-written source. */
const EXCLUDED_DIRS = ['test/goldens/'];

const root = new URL('../../', import.meta.url);

function trackedSources(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--', ...SOURCE_GLOBS], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter((f) => f !== '' && !EXCLUDED_DIRS.some((d) => f.startsWith(d)));
}

/** `file:line (N chars)` for each line over MAX_LINE, counting code points so CJK text is not over-counted. */
function longLines(file: string): string[] {
  const lines = readFileSync(new URL(file, root), 'utf8').split(/\r?\n/);
  const hits: string[] = [];
  lines.forEach((line, i) => {
    const length = [...line].length;
    if (length > MAX_LINE) hits.push(`${file}:${i + 1} (${length} chars)`);
  });
  return hits;
}

describe('line length', () => {
  const files = trackedSources();

  it('finds the tracked source files', () => {
    expect(files).toContain('src/index.ts');
    expect(files.some((f) => f.endsWith('.wgsl'))).toBe(true);
  });

  it(`keeps every tracked source line at most ${MAX_LINE} characters`, () => {
    const offenders = files.flatMap(longLines);
    expect(offenders, `lines over ${MAX_LINE} characters; wrap them`).toEqual([]);
  });
});
