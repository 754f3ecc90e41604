import { defineConfig } from 'vitest/config';

// Two projects, both run by `npm test` (which builds first):
// - unit: pure code only; test/support/unit-guard.ts makes a socket (and so PostgreSQL) fail the test.
// - integration: real PostgreSQL (global-setup.ts), real sockets and the built gateway in dist/;
//   its global setup refuses to start when dist/ is older than src/ or bench/.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], setupFiles: ['test/support/unit-guard.ts'] },
      },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], globalSetup: ['test/support/global-setup.ts'] },
      },
    ],
  },
});
