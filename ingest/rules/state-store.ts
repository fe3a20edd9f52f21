import type { RuleKind } from '../../core/rules.js';
import type { Logger } from '../../lib/logger.js';
import type { MetadataDb } from '../../storage/metadata-db.js';
import type { BaseState } from './kinds/types.js';

interface RuleStates {
  kind: RuleKind;
  states: Map<string, BaseState>;
}

interface Row {
  rule_id: string;
  entity: string;
  rule_kind: RuleKind;
  state: string;
}

/**
 * Every rule's per-entity state (durations under way, last values, learned intervals), in
 * memory for the engine and persisted as JSON in the metadata database, table `rule_state`, so
 * a restart resumes where it stopped. Loaded once at construction; changes are only marked
 * dirty and written by `flush()` in one transaction (the caller flushes about every second and
 * at stop), so a busy ingest does not write SQLite per record. A crash loses at most the
 * changes since the last flush: durations restart a little late, nothing fires twice.
 * Not safe for two processes on one database.
 */
export class RuleStateStore {
  private readonly byRule = new Map<string, RuleStates>();
  /** rule id → entity keys changed (set or deleted) since the last flush */
  private readonly dirty = new Map<string, Set<string>>();
  private readonly droppedRules = new Set<string>();
  private readonly sql;
  private readonly now: () => number;

  constructor(private readonly db: MetadataDb, opts: { now?: () => number; log?: Logger } = {}) {
    this.now = opts.now ?? Date.now;
    db.exec(`CREATE TABLE IF NOT EXISTS rule_state (
      rule_id TEXT NOT NULL, entity TEXT NOT NULL, rule_kind TEXT NOT NULL, state TEXT NOT NULL, updated_at INTEGER NOT NULL,
      PRIMARY KEY (rule_id, entity)) WITHOUT ROWID`);
    this.sql = {
      upsert: db.prepare('INSERT INTO rule_state (rule_id, entity, rule_kind, state, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (rule_id, entity) DO UPDATE SET rule_kind = excluded.rule_kind, state = excluded.state, updated_at = excluded.updated_at'),
      remove: db.prepare('DELETE FROM rule_state WHERE rule_id = ? AND entity = ?'),
      removeRule: db.prepare('DELETE FROM rule_state WHERE rule_id = ?'),
    };
    for (const row of db.prepare<[], Row>('SELECT rule_id, entity, rule_kind, state FROM rule_state').iterate()) {
      try {
        this.rule(row.rule_id, row.rule_kind).states.set(row.entity, JSON.parse(row.state) as BaseState);
      } catch (err) {
        // one unreadable row costs that entity its history, not the start
        opts.log?.warn({ err, ruleId: row.rule_id, entity: row.entity }, 'unreadable rule state dropped');
      }
    }
  }

  get(ruleId: string, entity: string): BaseState | undefined {
    return this.byRule.get(ruleId)?.states.get(entity);
  }

  set(ruleId: string, kind: RuleKind, entity: string, state: BaseState): void {
    this.rule(ruleId, kind).states.set(entity, state);
    this.mark(ruleId, entity);
  }

  delete(ruleId: string, entity: string): void {
    if (this.byRule.get(ruleId)?.states.delete(entity)) this.mark(ruleId, entity);
  }

  /** The states of one rule; setting or deleting the current entry while iterating is safe. */
  entries(ruleId: string): IterableIterator<[string, BaseState]> {
    return (this.byRule.get(ruleId)?.states ?? new Map<string, BaseState>()).entries();
  }

  /** The rules holding state, with the kind the state was made by. */
  rules(): Array<{ ruleId: string; kind: RuleKind }> {
    return [...this.byRule].map(([ruleId, r]) => ({ ruleId, kind: r.kind }));
  }

  dropRule(ruleId: string): void {
    if (!this.byRule.delete(ruleId)) return;
    this.dirty.delete(ruleId);
    this.droppedRules.add(ruleId);
  }

  /** Entries held, all rules together. */
  get size(): number {
    let n = 0;
    for (const r of this.byRule.values()) n += r.states.size;
    return n;
  }

  /** Writes what changed since the last flush in one transaction; returns the rows touched. */
  flush(): number {
    if (this.dirty.size === 0 && this.droppedRules.size === 0) return 0;
    const at = this.now();
    let rows = 0;
    this.db.transaction(() => {
      // dropped first: a rule id dropped and made again (another kind) since the last flush keeps its new states
      for (const ruleId of this.droppedRules) rows += this.sql.removeRule.run(ruleId).changes;
      for (const [ruleId, entities] of this.dirty) {
        const r = this.byRule.get(ruleId);
        for (const entity of entities) {
          const s = r?.states.get(entity);
          if (s) this.sql.upsert.run(ruleId, entity, r!.kind, JSON.stringify(s), at);
          else this.sql.remove.run(ruleId, entity);
          rows++;
        }
      }
    })();
    this.dirty.clear();
    this.droppedRules.clear();
    return rows;
  }

  private rule(ruleId: string, kind: RuleKind): RuleStates {
    let r = this.byRule.get(ruleId);
    if (r && r.kind !== kind) {
      this.dropRule(ruleId);
      r = undefined;
    }
    if (!r) this.byRule.set(ruleId, (r = { kind, states: new Map() }));
    return r;
  }

  private mark(ruleId: string, entity: string): void {
    let s = this.dirty.get(ruleId);
    if (!s) this.dirty.set(ruleId, (s = new Set()));
    s.add(entity);
  }
}
