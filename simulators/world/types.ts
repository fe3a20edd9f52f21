import type { DetectionKind, DroneCommand } from '../../core/telemetry.js';
import type { DeviceKind } from '../../core/topics.js';
import type { LatLon } from '../lib/geo.js';
import type { DroneSettings } from './drone.js';
import type { FaultKind, FaultTuning, ServerLimits } from './faults.js';
import type { SensorMetric } from './incidents.js';
import type { WindSettings } from './wind.js';

/** What a world is built from: a scenario after validation and defaults (see scenario/resolve.ts). */
export interface WorldSpec {
  name: string;
  seed: number;
  durationMs: number;
  server: ServerLimits;
  wind: WindSettings;
  drones: WorldDrone[];
  sensors: WorldSensor[];
  /** sorted by `atMs` */
  timeline: WorldAction[];
  faults: WorldFault[];
}

export interface WorldDrone extends Omit<DroneSettings, 'home'> {
  qos: 0 | 1;
  home?: LatLon;
}

export interface WorldSensor {
  id: string;
  cellId: string;
  metric: SensorMetric;
  intervalMs: number;
  qos: 0 | 1;
  position?: LatLon;
}

export type Where =
  | { lat: number; lon: number; offsetM?: [number, number] }
  | { cell: string; offsetM?: [number, number] }
  | { nearSensor: string; offsetM?: [number, number] }
  | { nearDrone: string; aheadM: number; offsetM?: [number, number] };

export interface IncidentAction {
  id: string;
  kind: DetectionKind;
  where: Where;
  durationMs: number | null;
  sizeM?: number;
  radiusM?: number;
  rampS?: number;
  riseMPerH?: number;
  intensity: number;
}

export type WorldAction = { atMs: number } & (
  | { type: 'incident'; incident: IncidentAction }
  | { type: 'end_incident'; id: string }
  | { type: 'lost_link'; drone: string; durationMs: number | null; buffer: boolean }
  | { type: 'drift_out'; drone: string; distanceM: number; holdMs: number }
  | { type: 'battery_fault'; drone: string; dropPct: number; drainFactor: number }
  | { type: 'sensor_silent'; sensor: string; durationMs: number | null }
  | { type: 'sensor_stuck'; sensor: string; durationMs: number | null }
  | { type: 'burst'; drones: string[]; telemetryHz: number; durationMs: number }
  | { type: 'command'; drone: string; command: DroneCommand }
  | { type: 'inject'; faults: Partial<Record<FaultKind, number>> }
);

/** A fault source: `count` spread evenly over the run, one `everyMs`, or each valid message with probability `rate`. */
export interface WorldFault {
  kind: FaultKind;
  count?: number;
  everyMs?: number;
  rate?: number;
  fromMs: number;
  /** only these devices (default: any that fits) */
  devices?: string[];
  tuning: FaultTuning;
}

export type Channel = 'telemetry' | 'events' | 'readings' | 'status';

/**
 * What the world asks the network side to do, in order, each at simulated epoch ms `t`. The
 * payloads are final bytes: the same seed, start and spec give the same emissions.
 */
export type Emission =
  | {
      type: 'publish';
      t: number;
      device: string;
      kind: DeviceKind;
      channel: Channel;
      topic: string;
      payload: string;
      qos: 0 | 1;
      retain: boolean;
      /** objects in the payload (a batch after a lost link carries many) */
      items: number;
      /** true when the contract accepts it and it should be stored (or, for status, applied) */
      valid: boolean;
      fault?: FaultKind;
    }
  | { type: 'link_down' | 'link_up'; t: number; device: string; kind: DeviceKind }
  | { type: 'wrong_credentials'; t: number; device: string; kind: DeviceKind; fault: 'wrong_credentials' }
  | { type: 'foreign_publish'; t: number; device: string; kind: DeviceKind; topic: string; payload: string; fault: 'foreign_topic' }
  | { type: 'reconnect_storm'; t: number; device: string; kind: DeviceKind; connections: number; fault: 'reconnect_storm' };

/** The last will every device registers: the broker publishes it when the link dies without a DISCONNECT. */
export const WILL_PAYLOAD = JSON.stringify({ state: 'offline', reason: 'lost link' });
