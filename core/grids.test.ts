import { describe, expect, it } from 'vitest';
import { GridCollection, GridIndex } from './grids.js';
import { loadGrids } from '../lib/grids.js';

describe('GridIndex over the bundled sample county', () => {
  const grids = loadGrids();

  it('has 20–60 cells with officers and some no-fly zones', () => {
    expect(grids.cells.length).toBeGreaterThanOrEqual(20);
    expect(grids.cells.length).toBeLessThanOrEqual(60);
    expect(grids.noFly.length).toBeGreaterThan(0);
    for (const c of grids.cells) expect(c.officer.name).toBeTruthy();
  });

  it('puts each cell centre into that cell and nowhere else', () => {
    for (const c of grids.cells) {
      const ring = (c.feature.geometry as { coordinates: number[][][] }).coordinates[0]!.slice(0, 4);
      const lon = ring.reduce((s, p) => s + p[0]!, 0) / 4;
      const lat = ring.reduce((s, p) => s + p[1]!, 0) / 4;
      expect(grids.cellAt(lat, lon)).toBe(c.id);
    }
  });

  it('answers none outside every cell', () => {
    expect(grids.cellAt(0, 0)).toBe('none');
    expect(grids.cellAt(33.69, 113.9)).toBe('none');
  });

  it('finds no-fly zones', () => {
    expect(grids.noFlyAt(33.805, 113.935).map((f) => f.properties.id)).toEqual(['NFZ-GOV']);
    expect(grids.noFlyAt(33.75, 113.8)).toEqual([]);
  });
});

describe('GridCollection', () => {
  const square = (id: string) => ({
    type: 'Feature', properties: { id, name: id, officer: { id: 'o', name: 'O' } },
    geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]] },
  });
  it('refuses duplicate ids and names the feature', () => {
    const r = GridCollection.safeParse({ type: 'FeatureCollection', features: [square('a'), square('a')] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toContain('duplicate id "a"');
  });
  it('refuses a cell without an officer', () => {
    const f = square('a') as { properties: Record<string, unknown> };
    delete f.properties.officer;
    expect(GridCollection.safeParse({ type: 'FeatureCollection', features: [f] }).success).toBe(false);
  });
  it('indexes a MultiPolygon', () => {
    const g = new GridIndex(GridCollection.parse({ type: 'FeatureCollection', features: [{ ...square('m'), geometry: { type: 'MultiPolygon', coordinates: [[[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]], [[[5, 5], [6, 5], [6, 6], [5, 6], [5, 5]]]] } }] }));
    expect(g.cellAt(5.5, 5.5)).toBe('m');
    expect(g.cellAt(3, 3)).toBe('none');
  });
});
