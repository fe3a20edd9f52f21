import type { GridIndex } from '../../core/grids.js';
import type { StoreRecord, TelemetryRecord } from '../../core/records.js';
import { fingerprint, type Rule, type RulesFile, type RuleSignal } from '../../core/rules.js';
import type { Logger } from '../../lib/logger.js';
import { KINDS } from './kinds/index.js';
import { CellCache } from '../cell-cache.js';
import { isDeviceRecord, type BaseState, type DeviceRecord, type EntityKind, type EntityRef, type KindModule, type RuleContext, type RuleInput } from './kinds/types.js';
import { devicePrefix, entityKey, entityOf, parseEntityKey, selectsEntity, selectsRecord, type EntityFacts } from './select.js';
import type { RuleStateStore } from './state-store.js';

export interface RulesEngineDeps {
  rules: RulesFile;
  grids: GridIndex;
  /** a drone's assigned cell (DeviceRegistry gridId); called per record for cell selectors and leave_cell: keep it cheap */
  assignedCell(droneId: string): string | undefined;
  sensorCell(sensorId: string): string | undefined;
  state: RuleStateStore;
  /** server clock, epoch ms */
  now?: () => number;
  log: Logger;
}

const moduleOf = (rule: Rule) => KINDS[rule.kind] as KindModule<Rule, BaseState>;
const enabled = (file: RulesFile) => file.rules.filter((r) => r.enabled);

/**
 * Telemetry and status in, RuleSignals out. Stateful rules need every record of one device in
 * this one engine, in order; records of a device that arrive late are evaluated in device-time
 * order within a call, and a record older than the newest one a rule has seen for that entity
 * is ignored by that rule (lost_link, sensor_silent and detection take them). Never called
 * concurrently (it is synchronous).
 */
export class RulesEngine {
  private file: RulesFile;
  private active: Rule[];
  private readonly ctx: RuleContext;
  private readonly now: () => number;
  private readonly store: RuleStateStore;
  private readonly log: Logger;
  /** signals owed from construction (state of rules that were removed while we were down) */
  private pending: RuleSignal[];
  private readonly failing = new Set<string>();
  /** the registry's cells, cached: asked for every record (see CellCache) */
  private readonly assignedCells: CellCache;
  private readonly sensorCells: CellCache;

  constructor(deps: RulesEngineDeps) {
    this.now = deps.now ?? Date.now;
    this.store = deps.state;
    this.log = deps.log.child({ component: 'rules' });
    this.assignedCells = new CellCache(deps.assignedCell, this.now);
    this.sensorCells = new CellCache(deps.sensorCell, this.now);
    this.ctx = {
      grids: deps.grids, startedAt: this.now(),
      assignedCell: (id) => this.assignedCells.get(id),
      sensorCell: (id) => this.sensorCells.get(id),
    };
    this.file = deps.rules;
    this.active = enabled(deps.rules);
    const keep = new Map(this.active.map((r) => [r.id, r.kind]));
    this.pending = [];
    for (const { ruleId, kind } of this.store.rules()) if (keep.get(ruleId) !== kind) this.pending.push(...this.dropRule(ruleId, this.now()));
  }

  /** Every rule of the file in force, disabled ones too (for the API). */
  rules(): readonly Rule[] {
    return this.file.rules;
  }

  rulesFile(): RulesFile {
    return this.file;
  }

  onRecords(records: readonly StoreRecord[]): RuleSignal[] {
    const out = this.takePending();
    const at = this.now();
    // Array.prototype.sort is stable: one device's records with equal times keep their order
    const ordered = records.length === 1 ? records.filter(isDeviceRecord) : records.filter(isDeviceRecord).sort(byTime);
    // per record, not per rule: the selector facts, and the entity (device, or device and metric) with its key and input
    for (const r of ordered) {
      const facts = new RecordFacts(r, this.ctx);
      const device: Subject = { entity: undefined, key: '', input: undefined };
      const metric: Subject = { entity: undefined, key: '', input: undefined };
      for (const rule of this.active) {
        const mod = moduleOf(rule);
        if (!mod.reads(rule, r) || !selectsRecord(rule.appliesTo, r)) continue;
        const subject = mod.perMetric && r.type === 'reading' ? metric : device;
        if (!subject.entity) {
          subject.entity = entityOf(r, mod.perMetric);
          subject.key = entityKey(subject.entity);
        }
        const { entity, key } = subject;
        const prev = this.store.get(rule.id, key);
        if (!selectsEntity(rule.appliesTo, facts)) {
          // e.g. a drone that landed under an airborne-only rule: what was open there is over
          if (prev) this.forget(rule.id, key, entity, r.ts, out);
          continue;
        }
        if (prev && mod.skipStale && r.ts < prev.lastTs) continue;
        subject.input ??= { type: 'record', entity, record: r, at };
        this.apply(rule, mod, key, prev, subject.input, out);
      }
    }
    return out;
  }

  /** A device's status: `online`, an `offline` it sent itself, or its last will (`isWill`). `at`: server clock. */
  onStatus(kind: EntityKind, id: string, online: boolean, at: number, isWill: boolean): RuleSignal[] {
    const out = this.takePending();
    const entity = { kind, id };
    const key = entityKey(entity);
    const cell = () => (kind === 'drone' ? this.ctx.assignedCell(id) : this.ctx.sensorCell(id));
    for (const rule of this.active) {
      const mod = moduleOf(rule);
      if (!mod.status || !selectsEntity(rule.appliesTo, { kind, id, cell })) continue;
      this.apply(rule, mod, key, this.store.get(rule.id, key), { type: 'status', entity, online, isWill, at }, out);
    }
    return out;
  }

  /** Time-based rules (lost link, silent sensors, `for` durations maturing without a sample). Call about every second. */
  tick(now: number): RuleSignal[] {
    const out = this.takePending();
    for (const rule of this.active) {
      const mod = moduleOf(rule);
      if (!mod.ticks) continue;
      for (const [key, state] of this.store.entries(rule.id)) this.apply(rule, mod, key, state, { type: 'tick', entity: parseEntityKey(key), now }, out);
    }
    return out;
  }

  /**
   * A new rules file. A rule whose id and kind are unchanged keeps its state (durations under way
   * continue under the new parameters); state of a rule removed, disabled or changed in kind is
   * dropped and its open conditions are cleared. Selectors narrowed by kind or devices drop the
   * entities they no longer cover; cells and modes are checked again on the entity's next record.
   */
  setRules(file: RulesFile): RuleSignal[] {
    const out = this.takePending();
    const at = this.now();
    const next = new Map(enabled(file).map((r) => [r.id, r]));
    for (const { ruleId, kind } of this.store.rules()) {
      const rule = next.get(ruleId);
      if (!rule || rule.kind !== kind) {
        out.push(...this.dropRule(ruleId, at));
        continue;
      }
      for (const [key] of this.store.entries(ruleId)) {
        const e = parseEntityKey(key);
        if (!selectsEntity({ kind: rule.appliesTo.kind, devices: rule.appliesTo.devices }, { kind: e.kind, id: e.id, cell: () => undefined })) this.forget(ruleId, key, e, at, out);
      }
    }
    this.file = file;
    this.active = [...next.values()];
    this.failing.clear();
    return out;
  }

  /** A device was removed: drop its state everywhere and clear what was open for it. */
  forgetDevice(kind: EntityKind, id: string, at: number = this.now()): RuleSignal[] {
    const out = this.takePending();
    (kind === 'drone' ? this.assignedCells : this.sensorCells).forget(id);
    const device = entityKey({ kind, id });
    for (const { ruleId } of this.store.rules())
      for (const [key] of this.store.entries(ruleId))
        if (key === device || key.startsWith(`${device}/`)) this.forget(ruleId, key, parseEntityKey(key), at, out);
    return out;
  }

  private apply(rule: Rule, mod: KindModule<Rule, BaseState>, key: string, prev: BaseState | undefined, input: RuleInput, out: RuleSignal[]): void {
    let result;
    try {
      result = mod.evaluate(prev, input, rule, this.ctx);
    } catch (err) {
      // a bug in one rule kind must not stop ingest or the other rules; say it once per rule
      if (!this.failing.has(rule.id)) this.log.error({ err, ruleId: rule.id, entity: key }, 'rule evaluation failed; the rule is skipped for this input');
      this.failing.add(rule.id);
      return;
    }
    if (result.state !== prev) {
      if (result.state) this.store.set(rule.id, rule.kind, key, result.state);
      else this.store.delete(rule.id, key);
    }
    const s = result.signal;
    if (s && !(s.type === 'clear' && this.siblingFiring(rule.id, key, input.entity))) out.push(s);
  }

  /**
   * A sensor's metrics have a state each under one fingerprint (rule + sensor): the alert
   * clears only when none of them is open any more.
   */
  private siblingFiring(ruleId: string, key: string, e: EntityRef): boolean {
    if (e.metric === undefined) return false;
    const prefix = devicePrefix(e);
    for (const [k, s] of this.store.entries(ruleId)) if (k !== key && s.firing && k.startsWith(prefix)) return true;
    return false;
  }

  private forget(ruleId: string, key: string, e: EntityRef, at: number, out: RuleSignal[]): void {
    const prev = this.store.get(ruleId, key);
    this.store.delete(ruleId, key);
    if (prev?.firing && !this.siblingFiring(ruleId, key, e)) out.push({ type: 'clear', ruleId, entityKind: e.kind, entityId: e.id, at });
  }

  private dropRule(ruleId: string, at: number): RuleSignal[] {
    const clears = new Map<string, RuleSignal>();
    for (const [key, s] of this.store.entries(ruleId)) {
      if (!s.firing) continue;
      const e = parseEntityKey(key);
      clears.set(fingerprint(ruleId, e.kind, e.id), { type: 'clear', ruleId, entityKind: e.kind, entityId: e.id, at });
    }
    this.store.dropRule(ruleId);
    if (clears.size) this.log.info({ ruleId, cleared: clears.size }, 'rule removed; its open conditions are cleared');
    return [...clears.values()];
  }

  private takePending(): RuleSignal[] {
    const p = this.pending;
    this.pending = [];
    return p;
  }
}

const byTime = (a: DeviceRecord, b: DeviceRecord) => a.ts - b.ts;

/** An entity of the record at hand, made when the first rule needs it and shared by the others. */
interface Subject {
  entity: EntityRef | undefined;
  key: string;
  input: RuleInput | undefined;
}

/** What selectors match a record's device against; the cell is looked up only if a selector names cells. */
class RecordFacts implements EntityFacts {
  readonly kind: EntityKind;
  readonly id: string;
  readonly mode: TelemetryRecord['mode'] | undefined;

  constructor(
    private readonly r: DeviceRecord,
    private readonly ctx: RuleContext,
  ) {
    this.kind = r.type === 'reading' ? 'sensor' : 'drone';
    this.id = r.type === 'reading' ? r.sensorId : r.droneId;
    this.mode = r.type === 'telemetry' ? r.mode : undefined;
  }

  cell(): string | undefined {
    return this.r.type === 'reading' ? this.r.gridId : (this.ctx.assignedCell(this.id) ?? this.r.gridId);
  }
}
