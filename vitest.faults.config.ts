import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: the reliability suite at full size (100,000 malformed payloads, thousands
 * of half-open connections). The same files run small in the main suite; GRIDPATROL_FAULTS=1 scales
 * them. `npm test` runs this suite after the main one (test/run.sh); `npm run test:quick` does not.
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
