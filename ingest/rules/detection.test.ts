import { describe, expect, it } from 'vitest';
import { detection, harness, IN_NFZ, only, T0 } from './test-kit.js';

const fire = { id: 'detect-fire', kind: 'detection', severity: 'critical', kinds: ['fire'], minConfidence: 0.8, requiresDisposal: true };

describe('detection', () => {
  it('a detection of the kind at or above the confidence fires at its position', () => {
    const { engine } = harness([fire]);
    const s = only(engine.onRecords([detection('d', T0, 'fire', 0.91, IN_NFZ)]));
    expect(s).toEqual({
      type: 'fire', ruleId: 'detect-fire', ruleKind: 'detection', severity: 'critical', entityKind: 'drone', entityId: 'd', gridId: 'LY-C4',
      position: IN_NFZ, at: T0, values: { kind: 'fire', confidence: 0.91, minConfidence: 0.8 }, description: 'd detected fire (confidence 0.91) at 33.80500, 113.93500',
    });
    expect(only(engine.onRecords([detection('d', T0 + 1, 'fire', 0.8)])).type).toBe('fire');
  });

  it('lower confidence or other kinds do not fire, and nothing ever clears', () => {
    const { engine } = harness([fire]);
    expect(engine.onRecords([detection('d', T0, 'fire', 0.79), detection('d', T0, 'smoke', 0.99)])).toEqual([]);
    engine.onRecords([detection('d', T0 + 1000, 'fire', 0.95)]);
    expect(engine.onRecords([detection('d', T0 + 2000, 'fire', 0.1)])).toEqual([]);
    expect(engine.tick(T0 + 86_400_000)).toEqual([]);
  });
});
