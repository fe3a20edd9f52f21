import type { DeviceChannel, DeviceKind } from '../../core/topics.js';
import type { DeadLetterStage } from '../../storage/dead-letters.js';

/** One MQTT message as ingest receives it, from whichever source. */
export interface Envelope {
  deviceId: string;
  kind: DeviceKind;
  channel: DeviceChannel;
  topic: string;
  payload: Buffer;
  /** epoch ms, server clock */
  receivedAt: number;
  /** the broker published this status as the device's last will */
  isWill?: boolean;
}

/** A stage's "no": the runner turns it into a dead letter. */
export interface Refusal {
  refused: true;
  stage: DeadLetterStage;
  /** short fixed code, used as a metric label */
  code: string;
  /** what is wrong and what is allowed, for a person */
  reason: string;
}

export function refuse(stage: DeadLetterStage, code: string, reason: string): Refusal {
  return { refused: true, stage, code, reason };
}

export function isRefusal(x: unknown): x is Refusal {
  return typeof x === 'object' && x !== null && (x as Refusal).refused === true;
}
