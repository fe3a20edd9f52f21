import type { Severity } from '../types.js';

/** One palette for the map, the lists and the charts (style.css uses the same values). */
export const SEVERITY_COLOR: Record<Severity, string> = { critical: '#dc2626', warning: '#f59e0b', info: '#3b82f6' };

export const MODE_COLOR: Record<string, string> = {
  patrol: '#2563eb', goto: '#7c3aed', takeoff: '#0891b2', landing: '#0891b2',
  rth: '#d97706', emergency: '#dc2626', idle: '#6b7280', landed: '#6b7280',
};
export const modeColor = (mode: string | undefined): string => MODE_COLOR[mode ?? ''] ?? '#6b7280';

export type SensorState = 'alarm' | 'online' | 'offline' | 'unknown';
export const SENSOR_COLOR: Record<SensorState, string> = { alarm: '#dc2626', online: '#16a34a', offline: '#475569', unknown: '#a3adb8' };
