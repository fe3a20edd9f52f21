import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../core/config.js';
import { ERRORS } from '../lib/errors.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const ci = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8');

describe('README', () => {
  it('opens with the command that runs GridPatrol and the one that runs the whole suite', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(firstBlock).toMatch(/^npm ci && npm start\b/m);
    expect(firstBlock).toMatch(/^npm ci && npm test\b/m);
    expect(ci).toMatch(/^npm test$/m);
  });

  it('has npm test, and so CI, run the reliability suite at full size after the main suite and count both reports', () => {
    const run = readFileSync(new URL('./run.sh', import.meta.url), 'utf8');
    expect(run).toMatch(/vitest run --config vitest\.faults\.config\.ts[\s\S]*test-results\/vitest-faults\.json/);
    expect(ci).toContain('test-results/vitest-faults.json');
    expect(readme).toContain('`npm run test:quick`');
  });

  it('documents every error code of the catalog', () => {
    for (const [code, { status }] of Object.entries(ERRORS)) expect(readme).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
  });

  it('documents every setting', () => {
    for (const name of Object.keys(SETTINGS)) expect(readme).toContain(`\`${name}\``);
  });
});
