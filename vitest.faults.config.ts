import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: the reliability suite at full size (100,000 malformed payloads, thousands
 * of half-open connections). The same files run small in `npm test`; GRIDPATROL_FAULTS=1 scales them.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    env: { GRIDPATROL_FAULTS: '1' },
    testTimeout: 15 * 60_000,
    hookTimeout: 5 * 60_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
