import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    // minutes long: it runs in the full-size reliability suite (vitest.faults.config.ts), the second part of `npm test`
    exclude: ['node_modules/**', 'data/**', 'test/reliability/read-only-flapping.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
