import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as alerts from './alerts.js';
import * as api from './api.js';
import * as config from './config.js';
import * as grids from './grids.js';
import * as rules from './rules.js';
import * as telemetry from './telemetry.js';
import * as time from './time.js';

/**
 * Every zod schema core/ exports, found by walking the modules (a schema added later is covered
 * without editing this file), plus the schema of every setting.
 */
const modules = { alerts, api, config, grids, rules, telemetry, time };
const schemas: Array<[string, z.ZodType]> = [
  ...Object.entries(modules).flatMap(([m, mod]) =>
    Object.entries(mod)
      .filter(([, v]) => v instanceof z.ZodType)
      .map(([name, v]) => [`${m}.${name}`, v as z.ZodType] as [string, z.ZodType]),
  ),
  ...Object.entries(config.SETTINGS).map(([name, s]) => [`setting ${name}`, s.schema as z.ZodType] as [string, z.ZodType]),
];

// anything JSON can carry, plus what a careless caller might hand over (undefined, NaN, -0, dates, nested oddities)
const hostile = fc.oneof(
  fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, maxDepth: 4 }),
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, Number.MAX_SAFE_INTEGER + 2, '', ' ', '\u0000', '__proto__', '1e309', 'constructor'),
  fc.dictionary(fc.constantFrom('ts', 'seq', 'lat', 'lon', 'kind', 'state', 'cmd', 'id', 'role', 'rules', '__proto__', 'constructor'), fc.anything({ maxDepth: 2 })),
);

describe('every zod schema in core/', () => {
  it('finds the schemas (walks the modules)', () => {
    expect(schemas.length).toBeGreaterThan(60);
    expect(schemas.map(([n]) => n)).toEqual(expect.arrayContaining(['telemetry.DroneTelemetry', 'rules.RulesFile', 'api.TokenCreate', 'setting GRIDPATROL_MQTT_PORT']));
  });

  it.each(schemas)('%s: safeParse never throws, and a failure always names at least one issue with a message', (_name, schema) => {
    fc.assert(
      fc.property(hostile, (input) => {
        const r = schema.safeParse(input);
        if (!r.success) {
          expect(r.error.issues.length).toBeGreaterThan(0);
          for (const issue of r.error.issues) expect(issue.message).toBeTruthy();
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ---- payload schemas: what the contract allows is accepted, what it does not is refused ----

const finite = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
const deviceTime = fc.oneof(
  fc.integer({ min: 0, max: 4_102_444_800_000 }),
  fc.date({ min: new Date('1971-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }).map((d) => d.toISOString()),
);
const validTelemetry = fc.record(
  {
    ts: deviceTime, seq: fc.nat(), lat: finite(-90, 90), lon: finite(-180, 180), alt: finite(-1000, 20000), speed: finite(0, 200),
    heading: finite(0, 360), battery: finite(0, 100), mode: fc.constantFrom(...telemetry.DroneMode.options), rssi: finite(-200, 0),
    sats: fc.integer({ min: 0, max: 100 }), vs: finite(-100, 100), voltage: finite(0, 100), patrolId: fc.string({ maxLength: 128 }),
  },
  { requiredKeys: ['ts', 'seq', 'lat', 'lon', 'alt', 'speed', 'heading', 'battery', 'mode', 'rssi', 'sats'] },
);
const validReading = fc.record(
  { ts: deviceTime, seq: fc.nat(), metric: fc.stringMatching(/^[a-z][a-z0-9_]{0,63}$/), value: finite(-1e12, 1e12), unit: fc.string({ maxLength: 16 }) },
  { requiredKeys: ['ts', 'metric', 'value'] },
);
const validEvent = fc.record(
  { ts: deviceTime, kind: fc.constantFrom(...telemetry.DetectionKind.options), confidence: finite(0, 1), lat: finite(-90, 90), lon: finite(-180, 180), seq: fc.nat() },
  { requiredKeys: ['ts', 'kind', 'confidence'] },
);

// one field pushed outside what the contract allows
const outOfRange: Record<string, fc.Arbitrary<unknown>> = {
  lat: fc.oneof(finite(90.000001, 1e6), finite(-1e6, -90.000001), fc.constant(NaN), fc.string()),
  lon: fc.oneof(finite(180.000001, 1e6), finite(-1e6, -180.000001), fc.constant(Infinity)),
  battery: fc.oneof(finite(100.000001, 1e6), finite(-1e6, -0.000001)),
  seq: fc.oneof(fc.integer({ max: -1 }), finite(0.1, 0.9), fc.constant('7')),
  ts: fc.oneof(fc.integer({ max: -1 }), fc.string().filter((s) => Number.isNaN(Date.parse(s))), fc.constant(null)),
  mode: fc.string().filter((s) => !(telemetry.DroneMode.options as readonly string[]).includes(s)),
  sats: fc.oneof(fc.integer({ min: 101 }), finite(0.1, 0.9)),
};

describe('payload schemas against the contract', () => {
  it('accepts every telemetry object the contract allows', () => {
    fc.assert(fc.property(validTelemetry, (t) => void expect(telemetry.DroneTelemetry.safeParse(t).success).toBe(true)));
  });

  it('refuses telemetry with any one field outside the contract, and names that field', () => {
    const mutated = fc.tuple(validTelemetry, fc.constantFrom(...Object.keys(outOfRange))).chain(([t, field]) => outOfRange[field]!.map((bad) => ({ t: { ...t, [field]: bad }, field })));
    fc.assert(
      fc.property(mutated, ({ t, field }) => {
        const r = telemetry.DroneTelemetry.safeParse(t);
        expect(r.success).toBe(false);
        expect(r.error!.issues.some((i) => i.path[0] === field)).toBe(true);
      }),
    );
  });

  it('accepts every reading and detection event the contract allows', () => {
    fc.assert(fc.property(validReading, (r) => void expect(telemetry.SensorReading.safeParse(r).success).toBe(true)));
    fc.assert(fc.property(validEvent, (e) => void expect(telemetry.DetectionEvent.safeParse(e).success).toBe(true)));
  });

  it('refuses a reading value that is not a finite number', () => {
    fc.assert(
      fc.property(validReading, fc.constantFrom<unknown>(NaN, Infinity, -Infinity, '1.8', null, [1]), (r, value) => {
        expect(telemetry.SensorReading.safeParse({ ...r, value }).success).toBe(false);
      }),
    );
  });

  it('reads every accepted ISO time to the same instant as its epoch ms', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1971-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }), (d) => {
        const iso = time.DeviceTime.parse(d.toISOString());
        expect(time.toEpochMs(iso)).toBe(d.getTime());
      }),
    );
  });

  it('accepts only topic-safe device ids (no MQTT wildcard, separator or control character can reach a topic)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        if (telemetry.DeviceId.safeParse(s).success) expect(s).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
      }),
    );
  });
});
