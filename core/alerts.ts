import { z } from 'zod';
import { Officer } from './grids.js';
import { Severity } from './rules.js';
import { QueryTime } from './time.js';

/** Alerts as the API, the SSE stream, MQTT and webhooks carry them. One definition. */

export const AlertState = z.enum(['open', 'acknowledged', 'resolved']);
export type AlertState = z.infer<typeof AlertState>;

export const Evidence = z.object({
  at: z.iso.datetime(),
  kind: z.enum(['detection', 'dispatch', 'arrival', 'reading', 'note']),
  summary: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type Evidence = z.infer<typeof Evidence>;

export const Alert = z.object({
  id: z.string(),
  fingerprint: z.string(),
  ruleId: z.string(),
  ruleKind: z.string(),
  severity: Severity,
  state: AlertState,
  entityKind: z.enum(['drone', 'sensor']),
  entityId: z.string(),
  gridId: z.string(),
  officer: Officer.nullable(),
  description: z.string(),
  values: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  position: z.object({ lat: z.number(), lon: z.number() }).nullable(),
  openedAt: z.iso.datetime(),
  lastSeenAt: z.iso.datetime(),
  count: z.number().int().describe('how many times the condition was seen'),
  acknowledgedAt: z.iso.datetime().nullable(),
  acknowledgedBy: z.string().nullable(),
  resolvedAt: z.iso.datetime().nullable(),
  resolvedBy: z.string().nullable(),
  responseDueAt: z.iso.datetime(),
  disposalDueAt: z.iso.datetime(),
  /** 0; +1 when the response deadline is missed, +1 when the disposal deadline is missed */
  escalationLevel: z.number().int(),
  requiresDisposal: z.boolean().describe('clearing the condition does not resolve it; a person must'),
  silenced: z.boolean(),
  previousAlertId: z.string().nullable().describe('the alert this one recurs after'),
  evidence: z.array(Evidence),
});
export type Alert = z.infer<typeof Alert>;

export const TransitionKind = z.enum(['open', 'acknowledge', 'resolve', 'auto_resolve', 'escalate', 'evidence', 'silence']);

/** One immutable audit record: who moved an alert from what to what, when, and why. */
export const AlertTransition = z.object({
  id: z.number().int().describe('increasing; the SSE event id'),
  alertId: z.string(),
  at: z.iso.datetime(),
  actor: z.string().describe('"system" or the token name of a person'),
  kind: TransitionKind,
  from: AlertState.nullable(),
  to: AlertState,
  note: z.string().nullable(),
});
export type AlertTransition = z.infer<typeof AlertTransition>;

export const AlertsQuery = z.object({
  state: AlertState.optional(),
  grid: z.string().max(64).optional(),
  severity: Severity.optional(),
  from: QueryTime.optional().describe('opened at or after'),
  to: QueryTime.optional().describe('opened at or before'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
});

export const AckBody = z.object({ note: z.string().max(2000).optional() }).default({});
export const ResolveBody = z.object({ note: z.string().min(1, 'say how the alert was disposed of').max(2000) });

export const Silence = z.object({
  id: z.string(),
  matchers: z.object({ ruleId: z.string().optional(), entityId: z.string().optional(), gridId: z.string().optional() }),
  startsAt: z.iso.datetime(),
  endsAt: z.iso.datetime(),
  createdBy: z.string(),
  reason: z.string(),
  createdAt: z.iso.datetime(),
});
export type Silence = z.infer<typeof Silence>;

export const SilenceCreate = z
  .object({
    matchers: Silence.shape.matchers.refine((m) => Object.values(m).some((v) => v !== undefined), 'at least one matcher: ruleId, entityId or gridId'),
    startsAt: QueryTime.optional().describe('default: now'),
    endsAt: QueryTime,
    reason: z.string().min(1, 'say why (planned work, a known fault)').max(2000),
  });

export const SlaRow = z.object({
  gridId: z.string(),
  severity: Severity,
  count: z.number().int(),
  acknowledged: z.number().int(),
  resolved: z.number().int(),
  ackMedianS: z.number().nullable(),
  ackP90S: z.number().nullable(),
  resolveMedianS: z.number().nullable(),
  resolveP90S: z.number().nullable(),
  responseMissed: z.number().int(),
  disposalMissed: z.number().int(),
});
