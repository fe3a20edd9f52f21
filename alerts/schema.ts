import type { MetadataDb } from '../storage/metadata-db.js';

/**
 * The alert tables in the metadata database (data/gridpatrol.db). Times are epoch ms.
 *
 * - `alerts`: one row per alert; the partial UNIQUE index makes a second unresolved alert for a
 *   fingerprint impossible even if two writers raced (the second INSERT fails).
 * - `alert_transitions`: the audit trail. The INTEGER PRIMARY KEY AUTOINCREMENT id is the SSE
 *   event id (never reused, even after deletes, which the triggers forbid anyway); `at` is
 *   strictly increasing (see AlertStore.nextAt); `alert_json` is the alert right after the
 *   transition, so a replay (SSE Last-Event-ID) carries exactly what the live event carried.
 * - `silences`, and `silence_audit`: who created or deleted which silence, when (immutable too).
 * - `alert_sink_cursor`: the last transition appended to the spool (the outbox's position).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  id TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  rule_kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
  entity_kind TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  grid_id TEXT NOT NULL,
  officer_json TEXT,
  description TEXT NOT NULL,
  values_json TEXT NOT NULL,
  lat REAL,
  lon REAL,
  opened_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  count INTEGER NOT NULL,
  acknowledged_at INTEGER,
  acknowledged_by TEXT,
  resolved_at INTEGER,
  resolved_by TEXT,
  response_due_at INTEGER NOT NULL,
  disposal_due_at INTEGER NOT NULL,
  escalation_level INTEGER NOT NULL DEFAULT 0,
  -- each deadline escalates once: these say which already did
  response_escalated INTEGER NOT NULL DEFAULT 0,
  disposal_escalated INTEGER NOT NULL DEFAULT 0,
  requires_disposal INTEGER NOT NULL,
  silenced INTEGER NOT NULL,
  previous_alert_id TEXT,
  evidence_json TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_unresolved ON alerts (fingerprint) WHERE state != 'resolved';
CREATE INDEX IF NOT EXISTS alerts_newest ON alerts (opened_at, id);
CREATE INDEX IF NOT EXISTS alerts_by_fingerprint ON alerts (fingerprint, opened_at);
CREATE INDEX IF NOT EXISTS alerts_unresolved_by_entity ON alerts (entity_kind, entity_id, rule_kind) WHERE state != 'resolved';
CREATE INDEX IF NOT EXISTS alerts_response_due ON alerts (response_due_at) WHERE state = 'open' AND response_escalated = 0;
CREATE INDEX IF NOT EXISTS alerts_disposal_due ON alerts (disposal_due_at) WHERE state != 'resolved' AND disposal_escalated = 0;

CREATE TABLE IF NOT EXISTS alert_transitions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id TEXT NOT NULL REFERENCES alerts (id),
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  note TEXT,
  alert_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_transitions_by_alert ON alert_transitions (alert_id, id);
CREATE TRIGGER IF NOT EXISTS alert_transitions_no_update BEFORE UPDATE ON alert_transitions
  BEGIN SELECT RAISE(ABORT, 'alert transitions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS alert_transitions_no_delete BEFORE DELETE ON alert_transitions
  BEGIN SELECT RAISE(ABORT, 'alert transitions are immutable'); END;

CREATE TABLE IF NOT EXISTS silences (
  id TEXT PRIMARY KEY,
  rule_id TEXT,
  entity_id TEXT,
  grid_id TEXT,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER,
  deleted_by TEXT
);
CREATE TABLE IF NOT EXISTS silence_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  silence_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('create', 'delete')),
  silence_json TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS silence_audit_no_update BEFORE UPDATE ON silence_audit
  BEGIN SELECT RAISE(ABORT, 'the silence audit is immutable'); END;
CREATE TRIGGER IF NOT EXISTS silence_audit_no_delete BEFORE DELETE ON silence_audit
  BEGIN SELECT RAISE(ABORT, 'the silence audit is immutable'); END;

CREATE TABLE IF NOT EXISTS alert_sink_cursor (
  name TEXT PRIMARY KEY,
  last_id INTEGER NOT NULL
);
`;

export function createAlertTables(db: MetadataDb): void {
  db.exec(SCHEMA);
}
