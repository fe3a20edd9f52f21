import Database from 'better-sqlite3';
import { join } from 'node:path';
import { startInfluxd, type Influxd } from './influxd.js';

/** Reads what landed in a store the way a user (Grafana, an analyst) would: SQL or InfluxQL. */
export interface StoreProbe {
  name: 'sqlite' | 'influx';
  /** settings for GridPatrol to use this store */
  env: (dataDir?: string) => Record<string, string>;
  /** rows of a measurement as {column: value}, with `time` in epoch ms */
  rows(measurement: string, where?: string): Promise<Array<Record<string, unknown>>>;
  count(measurement: string, where?: string): Promise<number>;
  close(): Promise<void>;
  influxd?: Influxd;
}

export async function sqliteProbe(): Promise<StoreProbe> {
  let path = '';
  const open = () => new Database(path, { readonly: true, fileMustExist: true });
  return {
    name: 'sqlite',
    env: (dataDir) => {
      path = join(dataDir!, 'telemetry.db');
      return {};
    },
    async rows(m, where) {
      const db = open();
      try {
        const rows = db.prepare(`SELECT * FROM ${m} ${where ? `WHERE ${where}` : ''} ORDER BY ts`).all() as Array<Record<string, unknown>>;
        return rows.map(({ ts, ...r }) => ({ time: ts, ...r }));
      } finally {
        db.close();
      }
    },
    async count(m, where) {
      const db = open();
      try {
        return (db.prepare(`SELECT COUNT(*) AS n FROM ${m} ${where ? `WHERE ${where}` : ''}`).get() as { n: number }).n;
      } finally {
        db.close();
      }
    },
    async close() {},
  };
}

export async function influxProbe(database = 'gridpatrol'): Promise<StoreProbe> {
  const influxd = await startInfluxd();
  const query = async (q: string) => {
    const res = await fetch(`${influxd.url}/query?db=${database}&epoch=ms&q=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { results: Array<{ error?: string; series?: Array<{ columns: string[]; values: unknown[][]; tags?: Record<string, string> }> }> };
    const r = body.results[0]!;
    if (r.error) throw new Error(r.error);
    return (r.series ?? []).flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })));
  };
  return {
    name: 'influx',
    influxd,
    env: () => ({ GRIDPATROL_INFLUX_URL: influxd.url, GRIDPATROL_INFLUX_DB: database }),
    rows: (m, where) => query(`SELECT * FROM "${m}" ${where ? `WHERE ${where}` : ''}`),
    async count(m, where) {
      const rows = await query(`SELECT COUNT(*) FROM "${m}" ${where ? `WHERE ${where}` : ''}`);
      const row = rows[0];
      if (!row) return 0;
      return Math.max(...Object.entries(row).filter(([k]) => k.startsWith('count')).map(([, v]) => Number(v)));
    },
    close: () => influxd.stop(),
  };
}
