import { describe, expect, it } from 'vitest';
import type { StoreRecord } from '../core/records.js';
import { topics } from '../core/topics.js';
import { loadGrids } from '../lib/grids.js';
import { silentLogger } from '../lib/logger.js';
import { createMetrics } from '../lib/metrics.js';
import { DeadLetters } from '../storage/dead-letters.js';
import { LiveState } from '../storage/live-state.js';
import { openMetadataDb } from '../storage/metadata-db.js';
import { buildIngest } from './pipeline.js';
import type { Envelope } from './stages/types.js';

const NOW = Date.parse('2026-11-28T12:00:00Z');

function setup(opts: { failSink?: boolean } = {}) {
  const appended: StoreRecord[] = [];
  const deadLetters = new DeadLetters(openMetadataDb(':memory:'));
  const live = new LiveState();
  let fail = opts.failSink ?? false;
  const ingest = buildIngest({
    config: { limits: { maxPayloadBytes: 2048, maxPacketBytes: 1 << 20, maxMessagesPerSec: 100, maxConnections: 10 }, time: { maxFutureMs: 24 * 3600_000, maxAgeMs: 7 * 24 * 3600_000 } },
    grids: loadGrids(),
    sensorCell: (id) => (id === 's1' ? 'LY-B2' : undefined),
    sink: { append: async (r) => { if (fail) throw new Error('spool full'); appended.push(...r); } },
    deadLetters, live, metrics: createMetrics(), log: silentLogger(), now: () => NOW,
  });
  return { ingest, appended, deadLetters, live, setFail: (f: boolean) => (fail = f) };
}

const msg = (channel: 'telemetry' | 'events' | 'readings' | 'status', payload: unknown, deviceId = 'd1'): Envelope => ({
  deviceId, kind: channel === 'readings' ? 'sensor' : 'drone', channel,
  topic: channel === 'readings' ? topics.sensorReadings(deviceId) : topics.device('drone', deviceId, channel),
  payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), receivedAt: NOW,
});
const tel = (seq: number, extra: object = {}) => ({ ts: NOW - 1000, seq, lat: 33.8123, lon: 113.9541, alt: 118.5, speed: 8.2, heading: 270, battery: 76, mode: 'patrol', rssi: -67, sats: 14, ...extra });

describe('ingest pipeline', () => {
  it('turns a telemetry object into a record with its grid cell', async () => {
    const { ingest, appended, live } = setup();
    await ingest.accept(msg('telemetry', tel(1)));
    expect(appended).toEqual([{ type: 'telemetry', droneId: 'd1', gridId: expect.stringMatching(/^LY-/), ...tel(1), ts: NOW - 1000 }]);
    expect(live.drones.get('d1')?.telemetry?.seq).toBe(1);
  });

  it('takes batches item by item: one bad item is one dead letter, the rest land', async () => {
    const { ingest, appended, deadLetters } = setup();
    await ingest.accept(msg('telemetry', [tel(1), tel(2, { battery: 140 }), tel(3)]));
    expect(appended.map((r) => (r as { seq: number }).seq)).toEqual([1, 3]);
    const [dl] = deadLetters.list({ limit: 10 });
    expect(dl).toMatchObject({ deviceId: 'd1', stage: 'validate', code: 'schema', topic: 'gridpatrol/v1/drones/d1/telemetry' });
    expect(dl?.reason).toMatch(/battery/);
    expect(JSON.parse(dl!.payload)).toMatchObject({ seq: 2, battery: 140 });
  });

  it('stores a repeated seq once', async () => {
    const { ingest, appended } = setup();
    await ingest.accept(msg('telemetry', tel(5)));
    await ingest.accept(msg('telemetry', tel(5)));
    expect(appended).toHaveLength(1);
  });

  it('keeps the raw payload of a message that is not JSON', async () => {
    const { ingest, deadLetters, appended } = setup();
    await ingest.accept(msg('telemetry', '{"lat": 33.8,'));
    expect(appended).toHaveLength(0);
    expect(deadLetters.list({ limit: 1 })[0]).toMatchObject({ stage: 'decode', code: 'not_json', payload: '{"lat": 33.8,' });
  });

  it('refuses an implausible time at normalize', async () => {
    const { ingest, deadLetters } = setup();
    await ingest.accept(msg('telemetry', tel(1, { ts: NOW + 48 * 3600_000 })));
    expect(deadLetters.list({ limit: 1 })[0]).toMatchObject({ stage: 'normalize', code: 'ts_future' });
  });

  it('puts sensors in their registered cell and events in their position cell', async () => {
    const { ingest, appended } = setup();
    await ingest.accept(msg('readings', { ts: NOW, seq: 1, metric: 'water_level', value: 1.82, unit: 'm' }, 's1'));
    await ingest.accept(msg('readings', { ts: NOW, metric: 'gas', value: 3 }, 's9'));
    await ingest.accept(msg('events', { ts: NOW, kind: 'smoke', confidence: 0.91, lat: 33.8123, lon: 113.9541 }));
    expect(appended.map((r) => r.gridId)).toEqual(['LY-B2', 'none', expect.stringMatching(/^LY-/)]);
  });

  it('marks status online and offline without storing it', async () => {
    const { ingest, appended, live } = setup();
    await ingest.accept(msg('status', { state: 'online' }));
    expect(live.drones.get('d1')?.online).toBe(true);
    await ingest.accept(msg('status', { state: 'offline' }));
    expect(live.drones.get('d1')?.online).toBe(false);
    expect(appended).toHaveLength(0);
  });

  it('rejects when the sink cannot take the records, and takes their redelivery later', async () => {
    const { ingest, appended, setFail } = setup({ failSink: true });
    await expect(ingest.accept(msg('telemetry', tel(9)))).rejects.toThrow('spool full');
    setFail(false);
    await ingest.accept(msg('telemetry', tel(9)));
    expect(appended).toHaveLength(1);
  });
});
