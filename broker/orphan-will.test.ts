import { describe, expect, it } from 'vitest';
import { orphanWillOf } from './authorize-publish.js';

// the wills a dead broker node left in Redis, published by a live node with no client behind them
describe('orphanWillOf', () => {
  const registry: Record<string, { kind: 'drone' | 'sensor'; disabled: boolean }> = {
    'drone-1': { kind: 'drone', disabled: false },
    'sensor-1': { kind: 'sensor', disabled: false },
    'drone-off': { kind: 'drone', disabled: true },
  };
  const deviceOf = (id: string) => registry[id] ?? null;

  it("takes a registered, enabled device's will on its own status topic", () => {
    expect(orphanWillOf(deviceOf, { topic: 'gridpatrol/v1/drones/drone-1/status' })).toEqual({ type: 'device', id: 'drone-1', kind: 'drone' });
    expect(orphanWillOf(deviceOf, { topic: 'gridpatrol/v1/sensors/sensor-1/status' })).toEqual({ type: 'device', id: 'sensor-1', kind: 'sensor' });
  });

  it('refuses other channels, unknown or disabled devices, a kind that is not the registered one, other topics', () => {
    for (const topic of [
      'gridpatrol/v1/drones/drone-1/telemetry',
      'gridpatrol/v1/drones/drone-1/commands',
      'gridpatrol/v1/drones/ghost/status',
      'gridpatrol/v1/drones/drone-off/status',
      'gridpatrol/v1/sensors/drone-1/status',
      'gridpatrol/v1/alerts/LY-A1/critical',
      '$SYS/x/status',
    ]) expect(orphanWillOf(deviceOf, { topic }), topic).toBeNull();
  });
});
