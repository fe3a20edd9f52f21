/**
 * A scenario for the cluster tests: drones and sensors in four cells with incidents that trip
 * stateful rules (durations, rates, stuck values, geofences, battery), a lost link whose
 * recorded samples arrive late in one batch, and a few malformed, duplicate and out-of-order
 * messages. Three simulated minutes, flown offline and published as fast as the broker takes them.
 */
export const CLUSTER_SCENARIO = `
name: cluster
seed: 99
duration: 3m
defaults:
  drone: { start: airborne, telemetryHz: 2, battery: { initialPct: 60, marginPct: 10 } }
  sensor: { interval: 5s }
drones:
  - cells: [LY-B2, LY-C3, LY-C4, LY-D4]
sensors:
  - { id: s-ly-c3-smoke, cell: LY-C3, metrics: [smoke], position: { lat: 33.8262, lon: 113.8895 } }
  - { id: s-ly-c3-temperature, cell: LY-C3, metrics: [temperature], position: { lat: 33.8228, lon: 113.8846 } }
  - { id: s-ly-b2-water_level, cell: LY-B2, metrics: [water_level], position: { lat: 33.7650, lon: 113.8150 } }
  - { cells: [LY-C4, LY-D4], metrics: [humidity] }
faults:
  malformed_json: { count: 3 }
  duplicate: { count: 3 }
  out_of_order: { count: 3 }
timeline:
  - { at: 10s, incident: { id: fire-c3, kind: fire, where: { lat: 33.8240, lon: 113.8870 }, duration: 2m } }
  - { at: 20s, incident: { id: flood-b2, kind: flood, where: { lat: 33.7660, lon: 113.8165 }, riseMPerH: 20, sizeM: 300 } }
  - { at: 30s, driftOut: { drone: drone-ly-c4, distanceM: 600, hold: 40s } }
  - { at: 40s, batteryFault: { drone: drone-ly-d4, dropPct: 45 } }
  - { at: 50s, lostLink: { drone: drone-ly-b2, duration: 30s, buffer: true } }
  - { at: 60s, sensorStuck: { sensor: s-ly-c4-humidity } }
`;

/**
 * The rules of the equality test: every record-driven kind, with device-time durations and
 * sample counts (so the order of one device's records decides the outcome). Rules driven by the
 * server clock (lost_link, sensor_silent) are left out: how fast a replay runs is not the same
 * twice. They are covered in one process by test/alerts-rules.test.ts and split into broker and
 * api by test/cluster/roles.test.ts (a drone whose link died, a silent sensor).
 */
export const CLUSTER_RULES = `
version: 1
rules:
  - { id: drone-battery-low, kind: threshold, severity: warning, appliesTo: { kind: drone, modes: [takeoff, patrol, goto, rth, landing, emergency] }, field: battery, op: below, value: 30, clear: 35, minSamples: 3 }
  - { id: drone-battery-reserve, kind: battery_reserve, severity: critical, appliesTo: { kind: drone }, drainPctPerMin: 1.5, marginPct: 10, minSpeedMs: 5 }
  - { id: drone-altitude-ceiling, kind: geofence, severity: warning, appliesTo: { kind: drone }, check: altitude, ceilingM: 120 }
  - { id: drone-left-cell, kind: geofence, severity: warning, appliesTo: { kind: drone }, check: leave_cell, toleranceM: 50 }
  - { id: drone-gps-jump, kind: implausible_motion, severity: warning, appliesTo: { kind: drone }, maxSpeedMs: 40, minJumpM: 30 }
  - { id: detect-fire, kind: detection, severity: critical, kinds: [fire, smoke], minConfidence: 0.5 }
  - { id: sensor-smoke, kind: threshold, severity: critical, appliesTo: { kind: sensor, metrics: [smoke] }, field: value, op: above, value: 2, clear: 1, for: 10s, minSamples: 2 }
  - { id: sensor-hot, kind: threshold, severity: critical, appliesTo: { kind: sensor, metrics: [temperature] }, field: value, op: above, value: 35, clear: 33, for: 10s, minSamples: 2 }
  - { id: river-rise, kind: rate_of_change, severity: warning, appliesTo: { kind: sensor, metrics: [water_level] }, field: value, direction: rising, change: 0.01, per: 30s }
  - { id: sensor-stuck, kind: stuck_value, severity: warning, appliesTo: { kind: sensor, metrics: [humidity] }, for: 30s, minSamples: 4 }
`;

