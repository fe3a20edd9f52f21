import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Alert, AlertTransition } from '../../core/alerts.js';
import { SseHub, type AlertEvent, type SseClient } from './sse.js';

/** A response that records writes and lets the test say how much is still unread. */
function fakeRes(unread = 0): ServerResponse & { chunks: string[]; wasDestroyed: boolean } {
  const r = {
    chunks: [] as string[],
    wasDestroyed: false,
    destroyed: false,
    writableLength: unread,
    write(chunk: string) {
      r.chunks.push(chunk);
      return true;
    },
    destroy() {
      r.wasDestroyed = true;
      r.destroyed = true;
    },
    end() {},
  };
  return r as unknown as ServerResponse & { chunks: string[]; wasDestroyed: boolean };
}

const event = (id: number): AlertEvent => ({
  transition: { id } as AlertTransition,
  alert: { gridId: 'C1', silenced: false } as Alert,
});

describe('SseHub', () => {
  it('writes to a client that reads, and drops and counts one with more than 1 MiB unread', () => {
    const hub = new SseHub();
    const reading = fakeRes(0);
    const stuck = fakeRes(2 << 20);
    const a: SseClient = { res: reading, lastId: 0 };
    const b: SseClient = { res: stuck, lastId: 0 };
    hub.add(a);
    hub.add(b);
    hub.broadcast(event(1));
    hub.broadcast(event(2));
    expect(reading.chunks).toHaveLength(2);
    expect(stuck.chunks).toHaveLength(0);
    expect(stuck.wasDestroyed).toBe(true);
    expect(hub.dropped).toBe(1);
    expect(hub.size).toBe(1);
  });

  it('drops and counts a client on request (one that stalls while it is replayed to)', () => {
    const hub = new SseHub();
    const res = fakeRes();
    const c: SseClient = { res, lastId: 0, live: false };
    hub.add(c);
    hub.drop(c);
    expect(res.wasDestroyed).toBe(true);
    expect(hub.dropped).toBe(1);
    expect(hub.size).toBe(0);
  });
});
