import type { List } from './types.js';

/** A refused API call: the status and the problem+json `code` and `detail` when there is one. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string | undefined, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

type Query = Record<string, string | number | undefined>;

/** The GridPatrol HTTP API with one bearer token (same origin: the page is served by GridPatrol). */
export class Api {
  constructor(readonly token: string) {}

  async get<T>(path: string, query: Query = {}): Promise<T> {
    return this.call<T>('GET', withQuery(path, query));
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  /** Every page of a list, following `next` (at most `maxPages` pages). */
  async all<T>(path: string, query: Query = {}, maxPages = 20): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < maxPages; i++) {
      const page = await this.get<List<T>>(path, { ...query, cursor });
      items.push(...page.items);
      if (!page.next) break;
      cursor = page.next;
    }
    return items;
  }

  /** A raw request with the token (the alert stream: EventSource cannot send an Authorization header). */
  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.token}`);
    return fetch(path, { ...init, headers });
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const json = text && /json/.test(res.headers.get('content-type') ?? '') ? (JSON.parse(text) as unknown) : text;
    if (!res.ok) {
      const p = (json && typeof json === 'object' ? json : {}) as { code?: string; detail?: string; title?: string };
      throw new ApiError(res.status, p.code, p.detail ?? p.title ?? `${method} ${path}: HTTP ${res.status}`);
    }
    return json as T;
  }
}

function withQuery(path: string, query: Query): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
