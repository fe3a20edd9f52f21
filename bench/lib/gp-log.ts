import type { ChildProcess } from 'node:child_process';

export interface GpLog {
  warn: number;
  error: number;
  /** the first WARN and ERROR lines */
  samples: string[];
  /** the start of stderr */
  stderr: string;
}

/** Reads GridPatrol's JSON log: counts WARN (40) and ERROR/FATAL (50+) lines, keeps the first few. */
export function watchLog(child: ChildProcess, keep = 20): GpLog {
  const out: GpLog = { warn: 0, error: 0, samples: [], stderr: '' };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) {
      const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
      if (level < 40) continue;
      if (level >= 50) out.error++;
      else out.warn++;
      if (out.samples.length < keep) out.samples.push(line.slice(0, 1000));
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    if (out.stderr.length < 8000) out.stderr += d.toString();
  });
  return out;
}
