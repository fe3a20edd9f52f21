import type { RuleKind } from '../../../core/rules.js';
import { batteryReserve } from './battery-reserve.js';
import { detection } from './detection.js';
import { geofence } from './geofence.js';
import { implausibleMotion } from './implausible-motion.js';
import { lostLink } from './lost-link.js';
import { rateOfChange } from './rate-of-change.js';
import { sensorSilent } from './sensor-silent.js';
import { stuckValue } from './stuck-value.js';
import { threshold } from './threshold.js';
import type { KindModule, RuleOf } from './types.js';

/** Every rule kind's evaluator; the mapped type makes a new kind in core/rules.ts a compile error here until it has one. */
export const KINDS: { [K in RuleKind]: KindModule<RuleOf<K>, any> } = {
  threshold,
  rate_of_change: rateOfChange,
  geofence,
  battery_reserve: batteryReserve,
  lost_link: lostLink,
  detection,
  sensor_silent: sensorSilent,
  stuck_value: stuckValue,
  implausible_motion: implausibleMotion,
};
