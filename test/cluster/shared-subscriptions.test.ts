import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, spawnGridPatrol, startInProcess, testEnv, type Http } from '../helpers/gridpatrol.js';
import { startInfluxd, stopProcess, type Influxd } from '../helpers/influxd.js';
import { writeRulesFile } from '../helpers/alerts.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { publishReplay, registerReplayDevices, scenarioReplay, type Replay } from '../helpers/scenario-replay.js';
import { CLUSTER_RULES, CLUSTER_SCENARIO, alertSummary, expectedPerDevice, waitForStored } from './cluster-kit.js';

/**
 * Issue 9, items 3 and 4: three `ingest` workers in one MQTT 5 shared-subscription group on
 * Debian's Mosquitto 2 and one `api`, all separate processes on one data folder and one real
 * influxd, against the single `all` process on the same deterministic scenario.
 */
describe('ingest workers sharing the telemetry through Mosquitto', () => {
  let influxd: Influxd;
  let mosquitto: Mosquitto;
  let rules: ReturnType<typeof writeRulesFile>;
  let replay: Replay;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    [influxd, mosquitto] = await Promise.all([startInfluxd(), startMosquitto()]);
    rules = writeRulesFile(CLUSTER_RULES);
    // device times a little in the past: plausible, and the same for both runs
    replay = scenarioReplay(CLUSTER_SCENARIO, Date.now() - 10 * 60_000);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.map((c) => stopProcess(c)));
    await Promise.all([influxd?.stop(), mosquitto?.stop()]);
    rules?.remove();
  });

  async function singleProcessRun(): Promise<{ alerts: string[]; deadLetters: number }> {
    const gp = await startInProcess({ GRIDPATROL_INFLUX_URL: influxd.url, GRIDPATROL_INFLUX_DB: 'single', GRIDPATROL_RULES_FILE: rules.path, GRIDPATROL_MAX_MSGS_PER_SEC: '100000' });
    try {
      const passwords = await registerReplayDevices(gp.http, replay);
      await publishReplay(`mqtt://127.0.0.1:${gp.ports.mqttPort}`, replay, { passwords });
      expect(await waitForStored(influxd.url, 'single', replay)).toEqual(expectedPerDevice(replay));
      return { alerts: await alertSummary(gp.http), deadLetters: await deadLetterCount(gp.http) };
    } finally {
      await gp.stop();
    }
  }

  it('stores every message once, loses nothing when a worker is killed, and raises exactly the alerts of the single process', async () => {
    const single = await singleProcessRun();
    expect(single.alerts.length).toBeGreaterThan(3);

    const env = testEnv({ GRIDPATROL_INFLUX_URL: influxd.url, GRIDPATROL_INFLUX_DB: 'cluster', GRIDPATROL_RULES_FILE: rules.path, GRIDPATROL_MQTT_URL: mosquitto.url });
    // worker 1 is two members of the group (GRIDPATROL_INGEST_CONNECTIONS)
    const worker = (i: number) =>
      spawnGridPatrol({ ...env, GRIDPATROL_NODE_ID: `ingest-${i}`, GRIDPATROL_INGEST_SHARE: 'ingest', GRIDPATROL_INGEST_CONNECTIONS: i === 1 ? '2' : '1' }, { role: 'ingest' });
    const api = await spawnGridPatrol({ ...env, GRIDPATROL_NODE_ID: 'api-1' }, { role: 'api' });
    children.push(api.child);
    const workers = await Promise.all([1, 2, 3].map(worker));
    children.push(...workers.map((w) => w.child));
    await registerReplayDevices(api.http, replay);

    // a third of the way through, worker 2 dies without a word (it comes back once the devices are
    // done); two thirds of the way, worker 3 is stopped in order and stays away (it leaves the group)
    let killedAt = 0;
    let stoppedAt = 0;
    const third = Math.floor(replay.publishes.length / 3);
    await publishReplay(mosquitto.url, replay, {
      onProgress: (n) => {
        if (n >= third && !killedAt) {
          killedAt = n;
          workers[1]!.child.kill('SIGKILL');
        }
        if (n >= 2 * third && !stoppedAt) {
          stoppedAt = n;
          workers[2]!.child.kill('SIGTERM');
        }
      },
    });
    expect(killedAt).toBeGreaterThan(0);
    expect(stoppedAt).toBeGreaterThan(killedAt);
    await workers[1]!.exited;
    expect(await workers[2]!.exited).toBe(0);
    const restarted = await worker(2);
    children.push(restarted.child);
    const live = [workers[0]!, restarted];

    // exactly once: every device's records, one point per seq, none missing
    expect(await waitForStored(influxd.url, 'cluster', replay)).toEqual(expectedPerDevice(replay));
    // the restarted worker took what was queued for its session while it was dead
    expect(await acceptedRecords(live[1]!.http)).toBeGreaterThan(0);
    // dead letters: the malformed payloads, recorded by whichever worker took them, seen through the api
    await eventually(async () => (await deadLetterCount(api.http)) === single.deadLetters);

    // the one evaluator saw every device's messages in order: the same alerts, with the same histories
    const total = [...replay.expected.values()].reduce((a, s) => a + s.size, 0);
    await eventually(async () => (await evaluatedRecords(api.http)) >= total, 30_000);
    expect(await alertSummary(api.http)).toEqual(single.alerts);
  }, 240_000);
});

async function deadLetterCount(h: Http): Promise<number> {
  const r = await h('GET', '/api/v1/dead-letters?limit=1000');
  return (r.json.items as unknown[]).length;
}

async function metric(h: Http, name: string): Promise<number> {
  const text = (await h('GET', '/metrics', undefined, null)).json as string;
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && /^[a-z_]+(\{|\s)/.test(line)) sum += Number(line.split(' ').at(-1));
  return sum;
}

const acceptedRecords = (h: Http) => metric(h, 'gridpatrol_records_accepted_total');
/** records the api's one rules evaluator has taken from the broker (cluster/api-role.ts) */
const evaluatedRecords = (h: Http) => metric(h, 'gridpatrol_rules_records_total');
