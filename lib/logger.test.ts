import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

describe('logger', () => {
  it('redacts passwords, tokens, secrets and authorization headers wherever they are nested', () => {
    const lines: string[] = [];
    const log = createLogger('info', { write: (l: string) => void lines.push(l) });
    log.info({ password: 'pw-1', token: 'tk-1', secret: 'sc-1', device: { password: 'pw-2' }, req: { headers: { authorization: 'Bearer tk-2' } }, authorization: 'Bearer tk-3' }, 'x');
    const out = lines.join('');
    for (const s of ['pw-1', 'pw-2', 'tk-1', 'tk-2', 'tk-3', 'sc-1']) expect(out).not.toContain(s);
    expect(out).toContain('[Redacted]');
  });
});
