import { describe, expect, it } from 'vitest';
import { filterMatches } from './topics.js';

describe('filterMatches', () => {
  it.each([
    ['a/b/c', 'a/b/c', true],
    ['a/b/c', 'a/b', false],
    ['a/b', 'a/b/c', false],
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/b/d', false],
    ['a/+', 'a/', true], // an empty level is a level
    ['+/+', '/x', true],
    ['a/#', 'a', true], // the parent too [MQTT-4.7.1-2]
    ['a/#', 'a/b/c', true],
    ['#', 'a/b', true],
    ['#', '$SYS/x', false], // [MQTT-4.7.2-1]
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['gridpatrol/v1/drones/+/status', 'gridpatrol/v1/drones/d1/status', true],
    ['gridpatrol/v1/drones/+/status', 'gridpatrol/v1/drones/d1/telemetry', false],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(filterMatches(filter, topic)).toBe(expected);
  });
});
