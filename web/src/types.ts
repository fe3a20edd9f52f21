import type { z } from 'zod';
import type { Alert as AlertSchema, AlertTransition as AlertTransitionSchema, SlaRow as SlaRowSchema } from '../../core/alerts.js';
import type { DroneView as DroneViewSchema, GridsView as GridsViewSchema, InfoView as InfoViewSchema, ReadingWindowView, SensorView as SensorViewSchema, TrackPointView } from '../../core/api.js';
import type { Severity as SeveritySchema } from '../../core/rules.js';
import type { DroneMode as DroneModeSchema } from '../../core/telemetry.js';

/**
 * The API's shapes, inferred from the zod schemas in core/ (their one definition). Type-only
 * imports: nothing of zod reaches the browser bundle.
 */
export type Alert = z.infer<typeof AlertSchema>;
export type AlertTransition = z.infer<typeof AlertTransitionSchema>;
export type SlaRow = z.infer<typeof SlaRowSchema>;
export type DroneView = z.infer<typeof DroneViewSchema>;
export type SensorView = z.infer<typeof SensorViewSchema>;
export type GridsView = z.infer<typeof GridsViewSchema>;
export type GridFeature = GridsView['features'][number];
export type InfoView = z.infer<typeof InfoViewSchema>;
export type TrackPoint = z.infer<typeof TrackPointView>;
export type ReadingWindow = z.infer<typeof ReadingWindowView>;
export type Severity = z.infer<typeof SeveritySchema>;
export type DroneMode = z.infer<typeof DroneModeSchema>;
export type Role = InfoView['you']['role'];

/** What an SSE `alert` event carries. */
export interface AlertEvent {
  transition: AlertTransition;
  alert: Alert;
}

export interface List<T> {
  items: T[];
  next: string | null;
}

export const SEVERITY_RANK: Record<Severity, number> = { info: 1, warning: 2, critical: 3 };
