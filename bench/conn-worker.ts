import { connect, type Socket } from 'node:net';
import { connectPacket } from '../test/helpers/raw-mqtt.js';

/**
 * One client process of the connections benchmark (spawned with a raised `ulimit -n`, IPC to the
 * bench): holds thousands of idle MQTT 3.1.1 connections on raw sockets, a few hundred bytes
 * each, so that the client side costs little and the server's figures are the server's. The
 * packets are written by hand: CONNECT (clean session, keepalive 60 s, username and password),
 * PINGREQ every 30 s, DISCONNECT. Commands: open (connect every device, `concurrency` CONNECTs
 * in flight at once), drop (reset every socket, as a network failure would), close.
 */

interface Device {
  id: string;
  password: string;
}

type FromParent =
  | { type: 'open'; port: number; devices: Device[]; concurrency: number }
  | { type: 'drop' }
  | { type: 'close' };

const KEEPALIVE_S = 60;
const CONNECT_TIMEOUT_MS = 30_000;
const epochNow = () => performance.timeOrigin + performance.now();
const send = (m: object) => process.send!(m);

const PINGREQ = Buffer.from([0xc0, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);

const sockets = new Set<Socket>();

/** Connects one device; resolves with null once CONNACK accepted, or the reason it did not. */
function open(port: number, d: Device): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setNoDelay(true);
    let settled = false;
    const done = (reason: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (reason) s.destroy();
      else sockets.add(s);
      resolve(reason);
    };
    const timer = setTimeout(() => done('no CONNACK within 30 s'), CONNECT_TIMEOUT_MS);
    s.once('connect', () => s.write(connectPacket({ clientId: `${d.id}-idle`, username: d.id, password: d.password, keepalive: KEEPALIVE_S })));
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 4) return;
      s.off('data', onData);
      // CONNACK: 0x20 0x02 flags return-code; then PINGRESPs, which are read and dropped
      s.on('data', () => {});
      done(got[0] === 0x20 && got[3] === 0 ? null : `CONNACK return code ${got[3]}`);
    };
    s.on('data', onData);
    s.on('error', (err) => done(err.message));
    s.on('close', () => {
      sockets.delete(s);
      done('closed before CONNACK');
    });
  });
}

async function openAll(port: number, devices: Device[], concurrency: number): Promise<void> {
  const errors: string[] = [];
  let ok = 0;
  let failed = 0;
  let next = 0;
  const firstAt = epochNow();
  const lane = async () => {
    while (next < devices.length) {
      const reason = await open(port, devices[next++]!);
      if (reason === null) ok++;
      else {
        failed++;
        if (errors.length < 5) errors.push(reason);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, devices.length) }, lane));
  send({ type: 'opened', ok, failed, firstAt, lastAt: epochNow(), errors });
}

setInterval(() => {
  for (const s of sockets) s.write(PINGREQ);
}, (KEEPALIVE_S / 2) * 1000).unref();

process.on('message', (m: FromParent) => {
  if (m.type === 'open') void openAll(m.port, m.devices, m.concurrency);
  else if (m.type === 'drop') {
    for (const s of sockets) s.resetAndDestroy();
    sockets.clear();
    send({ type: 'dropped' });
  } else {
    for (const s of sockets) s.end(DISCONNECT);
    sockets.clear();
    send({ type: 'closed' });
    setTimeout(() => process.exit(0), 200);
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
