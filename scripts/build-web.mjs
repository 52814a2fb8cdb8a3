// Builds the browser bundle of the library for the web page's in-browser mode:
//   src/web/index.ts → dist/web/glm-asr.browser.js (+ .map), one ES module, shaders included.
// Run by `npm run build` (after tsup, whose `clean` empties dist/) and by the web e2e tests.
// The same file is the in-browser engine's Web Worker (EngineWorker starts `import.meta.url` as a module
// worker), so it stays one module with no split chunks: the server serves that one file.
//
// The engine takes FileProviders; folder paths and repo ids are resolved by the Node entry only
// (src/models/glm-asr/node.ts), which this bundle does not import. The bare packages reached through
// dynamic imports on Node paths (the audio-decode fallback, Dawn) stay external; a browser never
// executes them. Any `node:` import in the bundle's graph fails the build.
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleShaders } from './bundle-shaders.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const WEB_BUNDLE = join(root, 'dist', 'web', 'glm-asr.browser.js');

/**
 * Builds the bundle; resolves to its path. `outDir` defaults to dist/web (tests build into a temporary
 * folder and hand it to the server as `browserBundleDir`); `minify` defaults to true.
 */
export async function buildWeb({ minify = true, quiet = false, outDir = dirname(WEB_BUNDLE) } = {}) {
  bundleShaders();
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, basename(WEB_BUNDLE));
  const result = await build({
    entryPoints: [join(root, 'src/web/index.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome113', 'firefox121', 'safari17'],
    sourcemap: true,
    minify,
    legalComments: 'none',
    external: ['webgpu', 'audio-decode'],
    logLevel: quiet ? 'silent' : 'warning',
    metafile: true,
  });
  if (!quiet) {
    const out = Object.entries(result.metafile.outputs).find(([f]) => f.endsWith('.js'));
    process.stderr.write(`built ${outfile} (${Math.round((out?.[1].bytes ?? 0) / 1024)} KiB)\n`);
  }
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildWeb({ minify: !process.argv.includes('--no-minify') }).catch((e) => {
    process.stderr.write(`${e && e.message ? e.message : e}\n`);
    process.exit(1);
  });
}
