import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux this runs on (getconf CLK_TCK). */
const CLK_TCK = 100;

/** User + system CPU time a process has used so far, ms (10 ms resolution); null when it is gone or not Linux. */
export function cpuTimeMs(pid: number | undefined): number | null {
  if (!pid || pid <= 0) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces: count fields after its closing parenthesis
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]); // field 14
    const stime = Number(fields[12]); // field 15
    return ((utime + stime) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Resident set size of a process, KiB (VmRSS); null when it is gone or not Linux. */
export function rssKiB(pid: number | undefined): number | null {
  if (!pid || pid <= 0) return null;
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
