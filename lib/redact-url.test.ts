import { describe, expect, it } from 'vitest';
import { redactUrl } from './redact-url.js';

describe('redactUrl', () => {
  it('keeps scheme, host, port and path, and hides user info, query values and fragment', () => {
    const shown = redactUrl('https://ops:s3cret-pass@hooks.example.org:8443/gp/alerts?token=abc123&x=1&x=2#frag');
    expect(shown).toBe('https://redacted@hooks.example.org:8443/gp/alerts?token=redacted&x=redacted');
    for (const secret of ['s3cret-pass', 'ops', 'abc123', 'frag']) expect(shown).not.toContain(secret);
  });

  it('leaves a URL without secrets as it is', () => {
    expect(redactUrl('http://127.0.0.1:9000/hook')).toBe('http://127.0.0.1:9000/hook');
  });

  it('never echoes what it cannot parse', () => {
    expect(redactUrl('not a url with a secret')).toBe('[unparsable URL]');
  });
});
