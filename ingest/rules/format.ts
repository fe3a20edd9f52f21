/** Numbers and durations as a person reads them in an alert's description. */

/** Units of the drone telemetry fields (CONTRACT: Telemetry (drone)). */
export const FIELD_UNITS: Record<string, string> = {
  alt: 'm', speed: 'm/s', heading: '°', battery: '%', rssi: 'dBm', vs: 'm/s', voltage: 'V',
};

/** Three significant digits, no trailing zeros; whole numbers from 100 up. */
export function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return String(Math.round(v));
  return String(Number(v.toPrecision(3)));
}

export function withUnit(v: number, unit: string | undefined): string {
  return unit ? `${num(v)} ${unit}` : num(v);
}

export function duration(ms: number): string {
  const s = ms / 1000;
  if (s < 1) return `${Math.round(ms)} ms`;
  if (s < 90) return `${num(s)} s`;
  if (s < 90 * 60) return `${num(s / 60)} min`;
  if (s < 48 * 3600) return `${num(s / 3600)} h`;
  return `${num(s / 86_400)} d`;
}

export function distance(m: number): string {
  return m < 1000 ? `${Math.round(m)} m` : `${num(m / 1000)} km`;
}

/** Rounded for the alert's `values`: people read them, and JSON need not carry 15 digits. */
export function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
