import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RulesFile } from '../core/rules.js';
import { loadRulesFile, parseRules, RulesFileError, watchRulesFile } from './rules-file.js';

const GOOD = `version: 1
rules:
  - id: battery-low
    kind: threshold
    severity: warning
    field: battery
    op: below
    value: 20
`;

/** Problems, one line each, in the order reported. */
function problems(text: string): string[] {
  try {
    parseRules(text, 'rules.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(RulesFileError);
    expect((err as Error).message.split('\n')).toEqual((err as RulesFileError).problems);
    return (err as RulesFileError).problems;
  }
  throw new Error('no error');
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('rules file', () => {
  it('the bundled defaults are valid and cover every rule kind', () => {
    const f = loadRulesFile();
    expect(new Set(f.rules.map((r) => r.kind))).toEqual(new Set(['threshold', 'rate_of_change', 'geofence', 'battery_reserve', 'lost_link', 'detection', 'sensor_silent', 'stuck_value', 'implausible_motion']));
    expect(f.rules.find((r) => r.id === 'detect-fire')).toMatchObject({ severity: 'critical', minConfidence: 0.8, requiresDisposal: true });
    expect(f.rules.find((r) => r.id === 'drone-lost-link')).toMatchObject({ after: 5000 });
    expect(f.rules.find((r) => r.id === 'river-rise')).toMatchObject({ change: 0.05, per: 600_000 });
  });

  it('an error names the file, the line, the rule (index and id) and the field', () => {
    const text = `${GOOD}  - id: gps
    kind: implausible_motion
    severity: warning
  - id: river-rise
    kind: rate_of_change
    severity: warning
    field: value
    direction: rising
    change: 0.05
    per: 10 minutes
`;
    expect(problems(text)).toEqual(['rules.yaml:18 rules[2] (id "river-rise").per: a duration such as 30s, 5m, 4h']);
  });

  it('reports every problem, one line each: missing and unknown fields, bad kinds, duplicates, wrong types', () => {
    const text = `rules:
  - id: a
    kind: threshold
    severity: warning
    field: battery
    value: 20
    fro: 30s
  - id: b
    kind: treshold
    severity: warning
  - id: c
    kind: lost_link
    severity: urgent
    appliesTo: { kind: drone, cell: [LY-C3] }
`;
    expect(problems(text)).toEqual([
      'rules.yaml:7 rules[0] (id "a").fro: unknown field (a typo? it would be ignored)',
      'rules.yaml:14 rules[2] (id "c").appliesTo.cell: unknown field (a typo? it would be ignored)',
      // a missing field is on no line: the rule's first line it is
      'rules.yaml:2 rules[0] (id "a").op: required: one of above, below',
      'rules.yaml:9 rules[1] (id "b").kind: "treshold" is not a rule kind: one of threshold, rate_of_change, geofence, battery_reserve, lost_link, detection, sensor_silent, stuck_value, implausible_motion',
      'rules.yaml:13 rules[2] (id "c").severity: "urgent" is not one of info, warning, critical',
    ]);
    expect(problems(`${GOOD}${GOOD.split('rules:\n')[1]}`)).toEqual(['rules.yaml:9 rules[1] (id "battery-low").id: duplicate rule id "battery-low"']);
  });

  it('says which rules are inconsistent across fields', () => {
    const text = `rules:
  - id: x
    kind: threshold
    severity: info
    appliesTo: { kind: sensor }
    field: battery
    op: above
    value: 5
    clear: 7
`;
    expect(problems(text)).toEqual([
      'rules.yaml:6 rules[0] (id "x").field: sensor rules watch `value` (choose the metric with appliesTo.metrics)',
      'rules.yaml:9 rules[0] (id "x").clear: an "above" rule clears at or below its value (5)',
    ]);
  });

  it('YAML syntax errors name the line', () => {
    expect(problems('rules:\n  - id: a\n    id: b\n')[0]).toMatch(/^rules\.yaml:3 /);
  });

  it('an empty file says what a rules file holds', () => {
    expect(problems('')).toEqual(['rules.yaml:1 (the file): empty; a rules file has `rules:` with a list of rules']);
  });

  it('a missing file says so', () => {
    expect(() => loadRulesFile('/nonexistent/rules.yaml')).toThrow(/\/nonexistent\/rules\.yaml: cannot read the rules file/);
  });

  describe('watchRulesFile', () => {
    let dir: string;
    beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'gp-rules-file-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('hands over a valid new version, reports an invalid one (keeping the old) and stops when told', async () => {
      const file = join(dir, 'rules.yaml');
      writeFileSync(file, GOOD);
      const changes: RulesFile[] = [];
      const errors: Error[] = [];
      const stop = watchRulesFile(file, (r) => changes.push(r), (e) => errors.push(e), { intervalMs: 20 });
      // the watcher takes its first look asynchronously: a change before that would be its baseline
      await new Promise((r) => setTimeout(r, 100));
      try {
        writeFileSync(file, GOOD.replace('value: 20', 'value: 15'));
        await until(() => changes.length === 1);
        expect(changes[0]!.rules[0]).toMatchObject({ value: 15 });
        writeFileSync(file, GOOD.replace('value: 20', 'value: low'));
        await until(() => errors.length === 1);
        expect(errors[0]!.message).toMatch(/rules\.yaml:8 rules\[0\] \(id "battery-low"\)\.value: /);
        unlinkSync(file);
        await until(() => errors.length === 2);
        expect(errors[1]!.message).toMatch(/gone; the rules in force stay/);
        expect(changes).toHaveLength(1);
      } finally {
        stop();
      }
      writeFileSync(file, GOOD.replace('value: 20', 'value: 10'));
      await new Promise((r) => setTimeout(r, 100));
      expect(changes).toHaveLength(1);
    });
  });
});
