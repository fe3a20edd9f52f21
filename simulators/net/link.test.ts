import { Aedes } from 'aedes';
import { createServer, type Server } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { DeviceLink } from './link.js';

/** A bare Aedes on `port` (0: a free one) recording what it receives, in order. */
async function broker(port = 0): Promise<{ port: number; topics: string[]; close(): Promise<void> }> {
  const aedes = new Aedes();
  await aedes.listen();
  const topics: string[] = [];
  aedes.on('publish', (packet, client) => {
    if (client) topics.push(packet.topic);
  });
  const server: Server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const real = (server.address() as { port: number }).port;
  return {
    port: real,
    topics,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) await o.close().catch(() => undefined);
});

it('keeps trying to reconnect while the broker is down, and says so first once back, before the publishes that waited', async () => {
  const first = await broker();
  const reconnects: number[] = [];
  const closes: string[] = [];
  let link!: DeviceLink;
  link = new DeviceLink('d1', `mqtt://127.0.0.1:${first.port}`, { clientId: 'd1' }, {
    onUnexpectedClose: (why) => closes.push(why),
    onReconnect: () => {
      reconnects.push(Date.now());
      link.publish('status', 'online', 1, true, () => {});
    },
  });
  opened.push({ close: () => link.close(1000) });
  await link.open();
  await new Promise<void>((resolve, reject) => link.publish('before', 'x', 1, false, (err) => (err ? reject(err) : resolve())));

  await first.close();
  await new Promise<void>((resolve) => {
    const t = setInterval(() => !link.connected && (clearInterval(t), resolve()), 10);
  });
  const waited = new Promise<Error | undefined>((resolve) => link.publish('after', 'y', 1, false, resolve));
  // the first attempt (after 1 s) finds nothing listening; the broker is back before the second (2 s later)
  await new Promise<void>((resolve) => {
    const t = setInterval(() => closes.some((c) => c.startsWith('reconnect failed')) && (clearInterval(t), resolve()), 20);
  });
  const second = await broker(first.port);
  opened.push(second);
  expect(await waited).toBeUndefined();
  expect(reconnects).toHaveLength(1);
  expect(second.topics).toEqual(['status', 'after']);
}, 20_000);
