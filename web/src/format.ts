/** How times and numbers are shown to people. */

/** 3 s, 4 min 12 s, 2 h 05 min, 3 d 4 h */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(Math.abs(ms) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(hrs / 24)} d ${hrs % 24} h`;
}

/** Time left until `due`: "in 4 min 10 s" or "overdue 2 min 03 s". */
export function countdown(due: number, now: number): { text: string; overdue: boolean } {
  const left = due - now;
  return left >= 0 ? { text: `in ${duration(left)}`, overdue: false } : { text: `overdue ${duration(-left)}`, overdue: true };
}

export function clock(t: number | string): string {
  return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function dateTime(t: number | string): string {
  return new Date(t).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function num(v: number | null | undefined, digits = 0, unit = ''): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(digits)}${unit ? `\u202f${unit}` : ''}`;
}

/** seconds → "12 s", "4.2 min", "3.1 h" */
export function seconds(s: number | null): string {
  if (s === null) return '—';
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
