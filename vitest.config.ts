import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    // tries a race that is narrowed, not closed (README: read-only data folder): `npm run test:faults` runs it, not CI's gate
    exclude: ['node_modules/**', 'data/**', 'test/reliability/read-only-flapping.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
