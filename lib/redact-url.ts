/**
 * A URL as logs may show it: a webhook target can carry a secret in its user info or query
 * (`https://user:pass@host/hook?token=…`), and logs must never hold secrets. Keeps scheme, host,
 * port and path (enough to tell targets apart), replaces user info and every query value.
 */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return '[unparsable URL]';
  }
  if (url.username || url.password) {
    url.username = 'redacted';
    url.password = '';
  }
  for (const key of [...new Set(url.searchParams.keys())]) url.searchParams.set(key, 'redacted');
  url.hash = '';
  return url.toString();
}
