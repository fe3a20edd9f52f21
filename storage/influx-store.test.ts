import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadingRecord } from '../core/records.js';
import { startInfluxd, stopInfluxd, type Influxd } from '../test/helpers/influxd.js';
import { describeTelemetryStoreContract } from './contract.js';
import { InfluxStore } from './influx-store.js';
import { execute, queryRows } from './influx/http.js';
import { ident } from './influx/influxql.js';

let influxd: Influxd | undefined;
let databases = 0;

beforeAll(async () => {
  influxd = await startInfluxd();
});

afterAll(async () => {
  await stopInfluxd(influxd);
});

describeTelemetryStoreContract('InfluxStore on influxd 1.x', async () => {
  if (!influxd) throw new Error('influxd did not start');
  const url = influxd.url;
  // a fresh database per test; init() creates it
  const database = `contract_${++databases}`;
  const conn = { url, database, authorization: undefined, timeoutMs: 10_000 };
  return {
    store: new InfluxStore({ url, database, api: 'auto' }),
    cleanup: () => execute(conn, `DROP DATABASE ${ident(database)}`),
    measurement: (name) => queryRows(conn, `SELECT * FROM ${ident(name)}`),
  };
});

describe('InfluxStore through influxd outages', () => {
  const reading = (ts: number): ReadingRecord => ({ type: 'reading', sensorId: 's1', gridId: 'g1', ts, metric: 'gas', value: ts % 1000 });

  function outageStore(database: string): InfluxStore {
    if (!influxd) throw new Error('influxd did not start');
    return new InfluxStore(
      { url: influxd.url, database, api: 'auto' },
      { requestTimeoutMs: 400, write: { maxRetries: 1, minRetryDelayMs: 20, maxRetryDelayMs: 50 } },
    );
  }

  it('says retry while influxd hangs, and writes once it answers again', async () => {
    const store = outageStore('outage_pause');
    await store.init();
    influxd!.pause();
    try {
      expect(await store.write([reading(1_780_000_000_001)])).toMatchObject({ status: 'retry' });
      expect(await store.ping()).toBe(false);
    } finally {
      influxd!.resume();
    }
    expect(await store.write([reading(1_780_000_000_001)])).toEqual({ status: 'accepted' });
    expect(await store.latestReadings()).toHaveLength(1);
    await store.close();
  });

  it('says retry while influxd is down, and keeps what it had after a restart', async () => {
    const store = outageStore('outage_kill');
    await store.init();
    expect(await store.write([reading(1_780_000_000_001)])).toEqual({ status: 'accepted' });
    const pid = influxd!.pid;
    await influxd!.kill();
    expect(await store.write([reading(1_780_000_000_002)])).toMatchObject({ status: 'retry', reason: expect.stringContaining('ECONNREFUSED') });
    await influxd!.start();
    expect(influxd!.pid).not.toBe(pid);
    expect(await store.write([reading(1_780_000_000_002)])).toEqual({ status: 'accepted' });
    expect((await store.latestReadings()).map((r) => r.ts)).toEqual([1_780_000_000_002]);
    const windows = await store.readings('s1', { from: 1_780_000_000_000, to: 1_780_000_000_010, everyMs: 1000 });
    expect(windows.map((w) => w.count)).toEqual([2]);
    await store.close();
  });
});
