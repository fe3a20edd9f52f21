import type { DroneTelemetry, SensorReading } from '../../core/telemetry.js';
import { topics } from '../../core/topics.js';
import type { Rng } from '../lib/rng.js';
import { DRONE_ONLY, FaultKind, malformed, outOfRange, oversize, schemaViolation, type FaultTuning } from './faults.js';
import type { Emission, WorldFault, WorldSpec } from './types.js';

type Publish = Extract<Emission, { type: 'publish' }>;

/** What the fault injector needs to know of a device. */
export interface DeviceSlot {
  kind: 'drone' | 'sensor';
  id: string;
  qos: 0 | 1;
  link: 'up' | 'down';
  /** the last valid data message it sent: what a duplicate repeats */
  lastValid: Publish | null;
  /** the next valid message is to be held back and sent after the one that follows it */
  holdNext: boolean;
  held: Publish | null;
}

export interface FaultInjectorOptions {
  spec: WorldSpec;
  startMs: number;
  endMs: number;
  rng: Rng;
  devices: () => DeviceSlot[];
  /** a fresh valid payload of the device at `t` (consumes its seq, as a real message would) */
  payloadOf: (slot: DeviceSlot, t: number) => DroneTelemetry | SensorReading;
}

const zero = (): Record<FaultKind, number> => Object.fromEntries(FaultKind.options.map((k) => [k, 0])) as Record<FaultKind, number>;

/**
 * Bad input on demand: faults at fixed times (`count` spread evenly, or `every`), or after a
 * valid message with a probability (`rate`), or when the timeline says (`inject`). Counts
 * every fault it emits, and the ones it could not place (no device fit at that moment).
 */
export class FaultInjector {
  readonly sent = zero();
  readonly skipped = zero();
  private readonly due: Array<{ at: number; fault: WorldFault }> = [];
  private readonly byRate: WorldFault[];
  private next = 0;

  constructor(private readonly o: FaultInjectorOptions) {
    for (const f of o.spec.faults) {
      const from = o.startMs + f.fromMs;
      const span = o.endMs - from;
      if (f.count !== undefined) for (let i = 0; i < f.count; i++) this.due.push({ at: from + ((i + 1) * span) / (f.count + 1), fault: f });
      if (f.everyMs !== undefined) for (let at = from + f.everyMs; at < o.endMs; at += f.everyMs) this.due.push({ at, fault: f });
    }
    this.due.sort((a, b) => a.at - b.at);
    this.byRate = o.spec.faults.filter((f) => f.rate !== undefined && f.rate > 0);
  }

  /** A valid message of `slot` goes out: held back for out-of-order, remembered for duplicates, and maybe followed by a fault. */
  valid(slot: DeviceSlot, e: Publish, t: number, out: Emission[]): void {
    if (slot.holdNext) {
      slot.holdNext = false;
      slot.held = { ...e, fault: 'out_of_order' };
    } else {
      out.push(e);
      if (slot.held) {
        out.push(slot.held);
        this.sent.out_of_order++;
        slot.held = null;
      }
    }
    slot.lastValid = e;
    for (const f of this.byRate) if (this.fits(slot, f.kind, f.devices) && this.o.rng.chance(f.rate!)) this.injectOn(slot, f.kind, f.tuning, t, out);
  }

  /** the faults scheduled up to `t` */
  scheduled(t: number, out: Emission[]): void {
    while (this.next < this.due.length && this.due[this.next]!.at <= t) {
      const { fault } = this.due[this.next++]!;
      this.inject(fault.kind, t, out, fault.devices, fault.tuning);
    }
  }

  /** one fault of `kind` now, on a device that fits (picked with the fault stream's random) */
  inject(kind: FaultKind, t: number, out: Emission[], devices?: string[], tuning?: FaultTuning): void {
    const fits = this.o.devices().filter((d) => this.fits(d, kind, devices));
    if (fits.length === 0) {
      this.skipped[kind]++;
      return;
    }
    this.injectOn(this.o.rng.pick(fits), kind, tuning ?? this.tuningOf(kind), t, out);
  }

  private tuningOf(kind: FaultKind): FaultTuning {
    return this.o.spec.faults.find((f) => f.kind === kind)?.tuning ?? {};
  }

  private fits(d: DeviceSlot, kind: FaultKind, devices?: string[]): boolean {
    if (d.link !== 'up' || (devices && !devices.includes(d.id))) return false;
    if (DRONE_ONLY.has(kind) && d.kind !== 'drone') return false;
    if (kind === 'duplicate') return d.lastValid !== null;
    if (kind === 'out_of_order') return !d.holdNext && d.held === null;
    return true;
  }

  private injectOn(slot: DeviceSlot, kind: FaultKind, tuning: FaultTuning, t: number, out: Emission[]): void {
    const { server } = this.o.spec;
    const rng = this.o.rng;
    const channel = slot.kind === 'drone' ? 'telemetry' : 'readings';
    const publish = (payload: string): Publish => ({
      type: 'publish', t, device: slot.id, kind: slot.kind, channel, topic: topics.device(slot.kind, slot.id, channel), payload, qos: 1, retain: false, items: 1, valid: false, fault: kind,
    });
    switch (kind) {
      case 'out_of_order':
        // counted when the held message goes out
        slot.holdNext = true;
        return;
      case 'duplicate':
        out.push({ ...slot.lastValid!, t, valid: false, fault: 'duplicate' });
        break;
      case 'malformed_json':
        out.push(publish(malformed(JSON.stringify(this.o.payloadOf(slot, t)), rng)));
        break;
      case 'schema_violation':
        out.push(publish(JSON.stringify(schemaViolation(this.o.payloadOf(slot, t), rng))));
        break;
      case 'out_of_range':
        out.push(publish(JSON.stringify(outOfRange(this.o.payloadOf(slot, t) as DroneTelemetry, rng))));
        break;
      case 'late':
        out.push(publish(JSON.stringify({ ...this.o.payloadOf(slot, t), ts: Math.round(t - (tuning.ageMs ?? server.maxAgeMs + 86_400_000)) })));
        break;
      case 'clock_skew':
        out.push(publish(JSON.stringify({ ...this.o.payloadOf(slot, t), ts: Math.round(t + (tuning.skewMs ?? server.maxFutureMs + 6 * 3_600_000)) })));
        break;
      case 'oversize':
        out.push(publish(oversize(this.o.payloadOf(slot, t), tuning.bytes ?? server.maxPayloadBytes + 1024)));
        break;
      case 'wrong_credentials':
        out.push({ type: 'wrong_credentials', t, device: slot.id, kind: slot.kind, fault: 'wrong_credentials' });
        break;
      case 'reconnect_storm':
        out.push({ type: 'reconnect_storm', t, device: slot.id, kind: slot.kind, connections: tuning.connections ?? 10, fault: 'reconnect_storm' });
        break;
      case 'foreign_topic': {
        const others = this.o.devices().filter((d) => d.id !== slot.id);
        const target = others.length ? rng.pick(others) : { kind: slot.kind, id: `${slot.id}-ghost` };
        const topic = topics.device(target.kind, target.id, target.kind === 'drone' ? 'telemetry' : 'readings');
        out.push({ type: 'foreign_publish', t, device: slot.id, kind: slot.kind, topic, payload: slot.lastValid?.payload ?? JSON.stringify({ ts: Math.round(t) }), fault: 'foreign_topic' });
        break;
      }
    }
    this.sent[kind]++;
  }
}
