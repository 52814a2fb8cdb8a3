import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
// @ts-expect-error plain .mjs helper without types
import { bundleShaders } from './scripts/bundle-shaders.mjs';

bundleShaders(); // keep src/gpu/shader-sources.ts in step with shaders/*.wgsl

/** Flags that make Debian's headless Chromium hand out its (SwiftShader) WebGPU adapter offline. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic', '--enable-unsafe-webgpu',
];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/browser/**'],
          environment: 'node',
          pool: 'forks',
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Node-only code paths are imported lazily; keep the optimizer from pre-bundling them mid-run.
        optimizeDeps: { exclude: ['audio-decode', 'webgpu'] },
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 120_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            instances: [{ browser: 'chromium' }],
            provider: playwright({ launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS } }),
          },
        },
      },
    ],
  },
});
