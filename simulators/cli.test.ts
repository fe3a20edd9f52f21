import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram, parseFault } from './cli.js';

function capture(program: Command): { out: string[]; run: (argv: string[]) => Promise<void> } {
  const out: string[] = [];
  for (const c of [program, ...program.commands])
    c.exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => out.push(s) });
  return { out, run: async (argv) => void (await program.parseAsync(argv, { from: 'user' }).catch(() => undefined)) };
}

describe('sim CLI', () => {
  it('explains every command and its options in --help', async () => {
    const program = buildProgram();
    const names = program.commands.map((c) => c.name());
    expect(names).toEqual(['run', 'load', 'validate', 'scenarios', 'dump', 'register']);
    for (const c of program.commands) {
      expect(c.description().length, c.name()).toBeGreaterThan(20);
      for (const o of c.options) expect(o.description.length, `${c.name()} ${o.flags}`).toBeGreaterThan(5);
      const { out, run } = capture(buildProgram());
      await run([c.name(), '--help']);
      expect(out.join(''), c.name()).toMatch(new RegExp(`Usage: sim ${c.name()}`));
    }
    const { out, run } = capture(buildProgram());
    await run(['load', '--help']);
    for (const flag of ['--drones', '--rate', '--duration', '--qos', '--workers', '--json', '--token', '--credentials']) expect(out.join('')).toContain(flag);
  });

  it('refuses a bad option value in one line', async () => {
    const { out, run } = capture(buildProgram());
    await run(['load', '--qos', '2']);
    expect(out.join('')).toMatch(/--qos.*expected 0 or 1/);
  });

  it('reads --fault specs', () => {
    expect(parseFault('malformed_json=every:10s')).toEqual({ malformed_json: { every: 10_000 } });
    expect(parseFault('duplicate=0.05')).toEqual({ duplicate: { rate: 0.05 } });
    expect(parseFault('oversize=count:2,bytes:100000', { late: { count: 1 } })).toEqual({ late: { count: 1 }, oversize: { count: 2, bytes: 100_000 } });
    expect(parseFault('clock_skew=3')).toEqual({ clock_skew: { count: 3 } });
    expect(() => parseFault('bit_flip=3')).toThrow(/unknown fault "bit_flip"/);
    expect(() => parseFault('late=count:1,rate:0.5')).toThrow(/exactly one of count, every, rate/);
  });
});
