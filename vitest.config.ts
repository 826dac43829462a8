import { defineConfig } from 'vitest/config';

// One config for the whole workspace. The `source` export condition makes
// `@troupe/core` resolve to its TypeScript sources, so tests never need a build.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    // One temp folder per run (TMPDIR), removed at the end: see vitest.tmpdir.ts.
    globalSetup: ['./vitest.tmpdir.ts'],
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
