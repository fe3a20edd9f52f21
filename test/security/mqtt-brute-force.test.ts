import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../core/topics.js';
import { connectMqtt, eventually, registerDevice, startInProcess, telemetry } from '../helpers/gridpatrol.js';
import { metricSum, scrape } from '../helpers/metrics.js';
import { connackCode, connectPacket, rawConnect } from '../helpers/raw-mqtt.js';

/**
 * Issue 8, security (11): repeated wrong MQTT passwords from one address are slowed, then that
 * address is refused every login for GRIDPATROL_MQTT_AUTH_LOCKOUT_MS; a device connecting from
 * elsewhere is unaffected. The attacker is 127.0.0.2 (all of 127/8 is loopback on Linux).
 */
const MAX_FAILURES = 8;
const LOCKOUT_MS = 3000;
const ATTACKER = '127.0.0.2';

async function attempt(port: number, username: string, password: string, from = ATTACKER): Promise<{ code: number | undefined; ms: number }> {
  const t0 = performance.now();
  const c = await rawConnect(port, '127.0.0.1', from);
  c.socket.write(connectPacket({ clientId: `bf-${Math.random()}`, username, password }));
  await new Promise<void>((resolve) => {
    c.socket.once('data', () => resolve());
    void c.closed.then(resolve);
  });
  const ms = performance.now() - t0;
  c.socket.destroy();
  return { code: connackCode(c.received), ms };
}

describe('MQTT brute force', () => {
  let gp: Awaited<ReturnType<typeof startInProcess>>;
  let password: string;

  beforeAll(async () => {
    gp = await startInProcess({ GRIDPATROL_MQTT_AUTH_MAX_FAILURES: String(MAX_FAILURES), GRIDPATROL_MQTT_AUTH_LOCKOUT_MS: String(LOCKOUT_MS) });
    password = await registerDevice(gp.http, 'target', 'drone');
    await registerDevice(gp.http, 'bystander', 'drone');
  });
  afterAll(() => gp?.stop());

  it('slows the refusals, then locks the address out (right password included) while a device elsewhere connects; lets it in again after the lockout', async () => {
    const refusals: number[] = [];
    for (let i = 0; i < MAX_FAILURES; i++) {
      const r = await attempt(gp.ports.mqttPort, 'target', `guess-${i}`);
      expect(r.code).toBe(4);
      refusals.push(r.ms);
    }
    // from a quarter of the limit on, each refusal is held back 250 ms longer (the last one locks at once)
    expect(refusals[0]!).toBeLessThan(200);
    expect(refusals.at(-2)!).toBeGreaterThan(refusals[0]! + 1000);

    // past the limit even the right password is refused (5), at once, without a password check
    const locked = await attempt(gp.ports.mqttPort, 'target', password);
    expect(locked.code).toBe(5);
    expect(locked.ms).toBeLessThan(200);
    const lockedAt = Date.now();

    // a device on another address is not touched
    const other = await connectMqtt(gp.ports.mqttPort, 'target', password);
    await other.publishAsync(topics.droneTelemetry('target'), JSON.stringify(telemetry(1)), { qos: 1 });
    other.end(true);

    const text = await scrape(gp.ports.httpPort);
    expect(metricSum(text, 'gridpatrol_mqtt_refused_total', { action: 'connect', reason: 'bad_password' })).toBe(MAX_FAILURES);
    expect(metricSum(text, 'gridpatrol_mqtt_refused_total', { action: 'connect', reason: 'locked_out' })).toBe(1);

    // after the lockout the right password works from the attacker's address again
    const back = await eventually(async () => Date.now() - lockedAt >= LOCKOUT_MS && (await attempt(gp.ports.mqttPort, 'target', password)).code === 0, LOCKOUT_MS + 5000, 250);
    expect(back).toBe(true);
  }, 60_000);
});
