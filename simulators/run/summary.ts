import { FAULT_OUTCOMES, FaultKind, describeOutcome, type Outcome } from '../world/faults.js';
import type { Channel } from '../world/types.js';

export interface ChannelCount {
  /** messages published */
  sent: number;
  /** QoS 1 messages GridPatrol acknowledged */
  acked: number;
  /** messages that failed (connection lost before the acknowledgement) */
  failed: number;
  /** objects in the messages sent (a backlog batch carries many) */
  items: number;
  itemsAcked: number;
}

export interface FaultCount {
  /** faults injected (storms: storms; their connections are under `connections`) */
  sent: number;
  /** acknowledged by GridPatrol: for bad payloads that means recorded as a dead letter */
  acked: number;
  /** refused by the broker: a connection or a publish turned down */
  refused: number;
  /** connections of a storm that were accepted */
  connections: number;
  /** anything else: lost on the way, or not refused when it should have been */
  unexpected: number;
  /** what GridPatrol does with it, and where to look */
  outcome: Outcome;
  expected: string;
  /** not injected for want of a device that fitted at that moment */
  skipped: number;
}

export interface FaultRecord {
  kind: FaultKind;
  device: string;
  topic: string;
  /** the first 512 characters of what was sent */
  payload: string;
  result: 'acked' | 'refused' | 'accepted' | 'failed';
}

/** What a scenario run did, for people (the table) and scripts and tests (`--json`). */
export interface RunSummary {
  scenario: string;
  seed: number;
  /** epoch ms of simulated start */
  startMs: number;
  simulatedMs: number;
  wallMs: number;
  speed: number;
  aborted: boolean;
  devices: { drones: number; sensors: number; registered: number; fromCredentials: number };
  channels: Record<Channel, ChannelCount>;
  faults: Partial<Record<FaultKind, FaultCount>>;
  links: { lost: number; restored: number };
  commands: { received: number; accepted: number; refused: number; invalid: number };
  /** per device and channel: objects sent and acknowledged (what the store should hold) */
  perDevice: Record<string, Partial<Record<Channel, { items: number; itemsAcked: number }>>>;
  faultLog: FaultRecord[];
  errors: { count: number; samples: string[] };
}

const channel = (): ChannelCount => ({ sent: 0, acked: 0, failed: 0, items: 0, itemsAcked: 0 });

export function emptySummary(scenario: string, seed: number, startMs: number, speed: number): RunSummary {
  return {
    scenario, seed, startMs, simulatedMs: 0, wallMs: 0, speed, aborted: false,
    devices: { drones: 0, sensors: 0, registered: 0, fromCredentials: 0 },
    channels: { telemetry: channel(), events: channel(), readings: channel(), status: channel() },
    faults: {},
    links: { lost: 0, restored: 0 },
    commands: { received: 0, accepted: 0, refused: 0, invalid: 0 },
    perDevice: {},
    faultLog: [],
    errors: { count: 0, samples: [] },
  };
}

export function faultCount(s: RunSummary, kind: FaultKind): FaultCount {
  let f = s.faults[kind];
  if (!f) {
    const outcome = FAULT_OUTCOMES[kind];
    f = s.faults[kind] = { sent: 0, acked: 0, refused: 0, connections: 0, unexpected: 0, skipped: 0, outcome, expected: describeOutcome(outcome) };
  }
  return f;
}

export function noteError(s: RunSummary, message: string): void {
  s.errors.count++;
  if (s.errors.samples.length < 10) s.errors.samples.push(message);
}

export { FaultKind };
