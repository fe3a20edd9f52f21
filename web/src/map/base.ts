import L from 'leaflet';
import { h } from '../dom.js';
import type { Alert, GridFeature, GridsView, InfoView } from '../types.js';
import { MODE_COLOR, SENSOR_COLOR, SEVERITY_COLOR } from './colors.js';

export interface BaseMap {
  map: L.Map;
  /** shades each cell by its most severe unresolved alert (none: the plain cell) */
  shade(worst: ReadonlyMap<string, Alert>): void;
  cellCentre(id: string): L.LatLng | null;
  cells: GridFeature[];
}

const CELL_STYLE: L.PathOptions = { color: '#51606f', weight: 1, fillColor: '#eef2ea', fillOpacity: 0.85 };

/**
 * The map: the grid cells are the base map (it works with no internet), an optional tile layer
 * under them (GRIDPATROL_TILE_URL, cells then translucent), the no-fly zones on top, a legend.
 */
export function createBaseMap(el: HTMLElement, grids: GridsView, tiles: InfoView['tiles'], officer: boolean): BaseMap {
  const map = L.map(el, { zoomSnap: 0.25, attributionControl: !!tiles, worldCopyJump: false });
  if (tiles) L.tileLayer(tiles.url, { attribution: tiles.attribution ?? '', maxZoom: 19 }).addTo(map);
  // Leaflet stacks SVG above canvas within a pane: the cells get a pane of their own under the
  // overlays, or they would veil the sensors' canvas and swallow clicks meant for it
  map.createPane('cells').style.zIndex = '350';
  const base: L.PathOptions = tiles ? { ...CELL_STYLE, fillOpacity: 0.15 } : CELL_STYLE;

  const cells = grids.features.filter((f) => f.properties.kind === 'cell');
  const noFly = grids.features.filter((f) => f.properties.kind === 'no_fly');
  const layers = new Map<string, L.Polygon>();
  const cellLayer = L.geoJSON({ type: 'FeatureCollection', features: cells } as GeoJSON.FeatureCollection, {
    pane: 'cells',
    interactive: false,
    style: () => base,
    onEachFeature: (f, layer) => {
      const p = (f as unknown as GridFeature).properties;
      layers.set(p.id, layer as L.Polygon);
      layer.bindTooltip(p.id, { permanent: true, direction: 'center', className: 'gp-cell-label', interactive: false });
    },
  }).addTo(map);
  L.geoJSON({ type: 'FeatureCollection', features: noFly } as GeoJSON.FeatureCollection, {
    pane: 'cells',
    interactive: false,
    style: () => ({ color: '#b91c1c', weight: 1.5, dashArray: '5 4', fillColor: '#ef4444', fillOpacity: 0.25 }),
  }).addTo(map);
  // a click on the map (not on a drone or sensor): what is here
  map.on('click', (e: L.LeafletMouseEvent) => {
    const here = [...noFly, ...cells].filter((f) => contains(f, e.latlng));
    if (here.length === 0) return;
    L.popup().setLatLng(e.latlng).setContent(h('div', { class: 'gp-popup' }, ...here.map((f) => {
      const p = f.properties;
      if (p.kind === 'no_fly') return h('div', { class: 'gp-nofly' }, h('b', {}, 'No-fly zone: '), p.name);
      return h('div', {}, h('b', {}, `${p.id} · ${p.name}`), h('br'), p.officer ? `Officer: ${p.officer.name}${p.officer.phone ? ` (${p.officer.phone})` : ''}` : 'No officer');
    }))).openOn(map);
  });
  map.fitBounds(cellLayer.getBounds(), { padding: [8, 8] });
  for (const [id, layer] of layers) layer.getElement()?.setAttribute('data-cell', id);
  legend(officer).addTo(map);

  return {
    map,
    cells,
    shade(worst) {
      for (const [id, layer] of layers) {
        const a = worst.get(id);
        layer.setStyle(a ? { ...base, fillColor: SEVERITY_COLOR[a.severity], fillOpacity: a.state === 'open' ? 0.55 : 0.3 } : base);
        layer.getElement()?.setAttribute('data-alert', a ? `${a.severity}-${a.state}` : 'none');
      }
    },
    cellCentre(id) {
      const l = layers.get(id);
      return l ? l.getBounds().getCenter() : null;
    },
  };
}

/** Point in polygon (even-odd rule over every ring): cells are small, plain lat/lon is exact enough. */
function contains(f: GridFeature, at: L.LatLng): boolean {
  const polys = (f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates) as number[][][][];
  let inside = false;
  for (const poly of polys)
    for (const ring of poly)
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i]! as [number, number];
        const [xj, yj] = ring[j]! as [number, number];
        if (yi > at.lat !== yj > at.lat && at.lng < ((xj - xi) * (at.lat - yi)) / (yj - yi) + xi) inside = !inside;
      }
  return inside;
}

function legend(officer: boolean): L.Control {
  const Legend = L.Control.extend({
    onAdd() {
      const swatch = (color: string, label: string, shape = 'dot') => h('span', { class: `gp-legend-item ${shape}` }, h('i', { style: `background:${color}` }), label);
      const el = h('div', { class: 'gp-legend' },
        h('div', {}, h('b', {}, 'Drones '), ...(['patrol', 'goto', 'takeoff', 'rth', 'emergency', 'landed'] as const).map((m) => swatch(MODE_COLOR[m]!, m, 'arrow'))),
        h('div', {}, h('b', {}, 'Sensors '), ...(['online', 'offline', 'unknown', 'alarm'] as const).map((s) => swatch(SENSOR_COLOR[s], s))),
        officer ? h('div', {}, h('b', {}, 'Cells '), swatch(SEVERITY_COLOR.critical, 'critical', 'box'), swatch(SEVERITY_COLOR.warning, 'warning', 'box'), swatch(SEVERITY_COLOR.info, 'info', 'box'), swatch('#ef4444', 'no-fly', 'box')) : h('div', {}, swatch('#ef4444', 'no-fly', 'box')),
      );
      L.DomEvent.disableClickPropagation(el);
      return el;
    },
  });
  return new Legend({ position: 'bottomleft' });
}
