import { frame } from './frame.js';
import { AlertStore } from './live/alerts.js';
import { connectDeviceFeed, type FeedState } from './live/device-feed.js';
import { Fleet } from './live/fleet.js';
import { createBaseMap } from './map/base.js';
import { DroneLayer } from './map/drones.js';
import { SensorLayer } from './map/sensors.js';
import { TrackLayer } from './map/track.js';
import { forgetToken, type Session } from './session.js';
import type { DroneView, GridsView, SensorView } from './types.js';
import { AlertDesk } from './ui/desk.js';
import { AlertDetail } from './ui/alert-detail.js';
import { Cue } from './ui/cue.js';
import { DroneDetail } from './ui/drone-detail.js';
import { droneTable, sensorTable } from './ui/lists.js';
import { ResponseReport, type Deadlines } from './ui/report.js';
import { SensorDetail, type ThresholdRule } from './ui/sensor-detail.js';
import { buildShell } from './ui/shell.js';

/** While MQTT over WebSocket is down, positions are read from the API this often (ms). */
const POLL_MS = 5000;
/** Cells, online state and sensor positions are refreshed from the API this often (ms). */
const REFRESH_MS = 30_000;

/** Wires the dashboard for a signed-in session: what is drawn depends on the token's role. */
export async function startDashboard(s: Session): Promise<void> {
  const { api } = s;
  const shell = buildShell(s, () => {
    forgetToken();
    location.reload();
  });
  const grids = await api.get<GridsView>('/api/v1/grids');
  const base = createBaseMap(shell.mapEl, grids, s.info.tiles, s.officer);
  const fleet = new Fleet();
  const alerts = new AlertStore();
  const track = new TrackLayer(base.map);

  let rules: ThresholdRule[] | null = null;
  let deadlines: Deadlines = {};
  const droneDetail = new DroneDetail(api, fleet, track);
  const sensorDetail = new SensorDetail(api, fleet, () => rules);
  const alertDetail = new AlertDetail(api, alerts, s.officer, {
    locate: (a) => {
      const at = a.position ? ([a.position.lat, a.position.lon] as [number, number]) : base.cellCentre(a.gridId);
      if (at) base.map.setView(at, Math.max(base.map.getZoom(), 14));
    },
    openEntity: (kind, id) => (kind === 'drone' ? selectDrone(id) : selectSensor(id)),
  });

  const drones = new DroneLayer(base.map, fleet, (id) => selectDrone(id));
  const sensors = new SensorLayer(base.map, fleet, (id) => base.cellCentre(id), (id) => selectSensor(id));
  const droneList = droneTable(fleet, (id) => {
    selectDrone(id);
    drones.panTo(id);
  });
  const sensorList = sensorTable(fleet, (id) => selectSensor(id));
  shell.panels.get('drones')!.append(droneList.el);
  shell.panels.get('sensors')!.append(sensorList.el);
  shell.onTab((t) => (t === 'drones' ? droneList.render() : t === 'sensors' ? sensorList.render() : undefined));

  function selectDrone(id: string): void {
    sensors.select(null);
    drones.select(id);
    shell.detail(droneDetail.el, () => {
      droneDetail.close();
      drones.select(null);
    });
    droneDetail.show(id);
  }
  function selectSensor(id: string): void {
    drones.select(null);
    shell.detail(sensorDetail.el, () => {
      sensorDetail.close();
      sensors.select(null);
    });
    sensors.select(id);
    sensorDetail.show(id);
  }

  fleet.onChange((changedDrones, changedSensors) => {
    drones.update(changedDrones);
    sensors.update(changedSensors);
    droneList.update(changedDrones);
    sensorList.update(changedSensors);
    if (droneDetail.current && changedDrones.has(droneDetail.current)) droneDetail.updateHead();
    if (sensorDetail.current && changedSensors.has(sensorDetail.current)) sensorDetail.updateHead();
    shell.counts.textContent = `${drones.size} drones · ${sensors.size} sensors`;
  });

  // the fleet as the API knows it, then live over MQTT; the API again while MQTT is down
  const load = async (what: 'drones' | 'both') => {
    const [d, sn] = await Promise.all([
      api.all<DroneView>('/api/v1/drones', { limit: 1000 }),
      what === 'both' ? api.all<SensorView>('/api/v1/sensors', { limit: 1000 }) : Promise.resolve([]),
    ]);
    fleet.seed(d, sn);
  };
  await load('both');
  let feed: FeedState = 'down';
  const port = s.info.mqttWs.port;
  if (port !== null) {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.hostname}:${port}${s.info.mqttWs.path}`;
    connectDeviceFeed(url, api.token, {
      telemetry: (id, t) => fleet.telemetry(id, t),
      readings: (id, r) => fleet.readings(id, r),
      status: (kind, id, online) => fleet.status(kind, id, online),
      state: (st, detail) => {
        feed = st;
        shell.indicator('positions', st, detail ? `MQTT over WebSocket: ${detail}` : `MQTT over WebSocket: ${st}`);
      },
    });
  } else shell.indicator('positions', 'polling', `no MQTT over WebSocket; positions read every ${POLL_MS / 1000} s`);
  setInterval(() => {
    if (feed !== 'live') void load('drones').then(() => port === null || shell.indicator('positions', 'polling', `MQTT over WebSocket down; positions read every ${POLL_MS / 1000} s`), () => undefined);
  }, POLL_MS);
  setInterval(() => void load('both').catch(() => undefined), REFRESH_MS);

  if (s.officer) {
    const cue = new Cue((id) => selectAlert(id));
    shell.overlay.append(cue.banner);
    const setSound = (on: boolean) => {
      shell.soundButton.textContent = on ? 'Sound on' : 'Sound off';
      shell.soundButton.setAttribute('aria-pressed', String(on));
    };
    setSound(cue.soundOn);
    shell.soundButton.addEventListener('click', () => setSound(cue.toggleSound()));

    const desk = new AlertDesk(alerts, base.cells, {
      select: (id) => selectAlert(id),
      ack: (id) => alertDetail.ack(id),
      resolve: (id) => selectAlert(id, true),
    });
    shell.panels.get('alerts')!.append(desk.el);
    const report = new ResponseReport(api, () => deadlines);
    shell.panels.get('report')!.append(report.el);
    shell.onTab((t) => {
      if (t !== 'report') return;
      shell.detail(null); // the report needs the whole panel
      void report.load();
    });

    function selectAlert(id: string, focusNote = false): void {
      drones.select(null);
      sensors.select(null);
      desk.select(id);
      shell.detail(alertDetail.el, () => desk.select(null));
      alertDetail.show(id, focusNote);
    }

    alerts.onChange((changed, opened) => {
      base.shade(alerts.worstByCell());
      sensors.setAlarms(alerts.byEntity());
      const entities = new Set<string>();
      for (const id of changed) {
        const a = alerts.alerts.get(id);
        if (a?.entityKind === 'sensor') entities.add(a.entityId);
      }
      sensors.update(entities);
      desk.markNew(opened);
      desk.render();
      const open = alerts.unresolved().filter((a) => a.state === 'open').length;
      shell.badge('alerts', open ? String(open) : '', opened.length > 0);
      if (alertDetail.current && changed.has(alertDetail.current)) alertDetail.refresh();
    });
    alerts.onOpened((a) => cue.alert(a));
    alerts.start(api, (st, detail) => shell.indicator('alerts', st, detail ?? `alert stream: ${st}`));
    api.get<{ items: ThresholdRule[]; deadlines: Deadlines }>('/api/v1/rules').then((r) => {
      rules = r.items;
      deadlines = r.deadlines;
    }, () => undefined);
  }

  // read by the dashboard test (test/dashboard.test.ts): what was drawn and what it cost
  Object.assign(window, {
    gridpatrolDebug: {
      stats: () => ({ ...frame.stats, received: fleet.received, drones: drones.size, sensors: sensors.size, sensorStates: sensors.counts(), alerts: alerts.alerts.size }),
      resetMax: () => void (frame.stats.maxMs = 0),
    },
  });
}
