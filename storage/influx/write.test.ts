import { InfluxDB } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import { gzipThreshold } from './write.js';

describe('gzipThreshold', () => {
  it.each([
    ['http://127.0.0.1:8086', 'never'], ['http://localhost:8086', 'never'], ['http://[::1]:8086', 'never'], ['http://127.0.3.4', 'never'],
    ['http://influxdb:8086', 'the client default'], ['https://eu-central-1-1.aws.cloud2.influxdata.com', 'the client default'], ['http://10.0.0.7:8086', 'the client default'],
  ])('gzips writes to %s: %s', (url, expected) => {
    const t = gzipThreshold({ client: new InfluxDB({ url }) });
    expect(t === undefined ? 'the client default' : t >= Number.MAX_SAFE_INTEGER ? 'never' : String(t)).toBe(expected);
  });
});
