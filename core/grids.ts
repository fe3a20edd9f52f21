import booleanPointInPolygon from '@turf/boolean-point-in-polygon';
import Flatbush from 'flatbush';
import { z } from 'zod';
import { NO_GRID } from './records.js';

const Position = z.tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)]).rest(z.number());
const Ring = z.array(Position).min(4, 'a ring needs at least 4 positions (closed)');
const Geometry = z.discriminatedUnion('type', [
  z.object({ type: z.literal('Polygon'), coordinates: z.array(Ring).min(1) }),
  z.object({ type: z.literal('MultiPolygon'), coordinates: z.array(z.array(Ring).min(1)).min(1) }),
]);

export const Officer = z.object({ id: z.string().min(1), name: z.string().min(1), phone: z.string().optional(), email: z.string().optional() });
export type Officer = z.infer<typeof Officer>;

const CellProperties = z.looseObject({ id: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_", "-" (it is used in MQTT topics)'), kind: z.literal('cell').default('cell'), name: z.string(), officer: Officer });
const NoFlyProperties = z.looseObject({ id: z.string().min(1), kind: z.literal('no_fly'), name: z.string() });

export const GridFeature = z.object({
  type: z.literal('Feature'),
  properties: z.union([NoFlyProperties, CellProperties]),
  geometry: Geometry,
});
export type GridFeature = z.infer<typeof GridFeature>;

/** The grid file (GRIDPATROL_GRIDS_FILE): cells with a responsible officer, and no-fly zones. */
export const GridCollection = z
  .object({ type: z.literal('FeatureCollection'), name: z.string().optional(), features: z.array(GridFeature).min(1) })
  .superRefine((fc, ctx) => {
    const seen = new Set<string>();
    fc.features.forEach((f, i) => {
      if (seen.has(f.properties.id)) ctx.addIssue({ code: 'custom', path: ['features', i, 'properties', 'id'], message: `duplicate id "${f.properties.id}"` });
      seen.add(f.properties.id);
    });
  });
export type GridCollection = z.infer<typeof GridCollection>;

export interface Cell {
  id: string;
  name: string;
  officer: Officer;
  feature: GridFeature;
}

/**
 * Which cell a position is in: a Flatbush index of the features' bounding boxes narrows the
 * search to a few candidates, then an exact point-in-polygon test decides. Built once, read-only.
 */
export class GridIndex {
  readonly cells: Cell[] = [];
  readonly noFly: GridFeature[] = [];
  private readonly cellIndex: Flatbush | null;
  private readonly noFlyIndex: Flatbush | null;
  private readonly byId = new Map<string, Cell>();

  constructor(readonly collection: GridCollection) {
    for (const f of collection.features) {
      if (f.properties.kind === 'no_fly') this.noFly.push(f);
      else {
        const p = f.properties as z.infer<typeof CellProperties>;
        const cell = { id: p.id, name: p.name, officer: p.officer, feature: f };
        this.cells.push(cell);
        this.byId.set(cell.id, cell);
      }
    }
    this.cellIndex = buildIndex(this.cells.map((c) => c.feature));
    this.noFlyIndex = buildIndex(this.noFly);
  }

  /** The id of the cell containing the point, or `none` (CONTRACT) when outside every cell. */
  cellAt(lat: number, lon: number): string {
    if (!this.cellIndex) return NO_GRID;
    for (const i of this.cellIndex.search(lon, lat, lon, lat)) {
      const cell = this.cells[i]!;
      if (booleanPointInPolygon([lon, lat], cell.feature.geometry)) return cell.id;
    }
    return NO_GRID;
  }

  /** The no-fly zones containing the point. */
  noFlyAt(lat: number, lon: number): GridFeature[] {
    if (!this.noFlyIndex) return [];
    return this.noFlyIndex.search(lon, lat, lon, lat).map((i) => this.noFly[i]!).filter((f) => booleanPointInPolygon([lon, lat], f.geometry));
  }

  cell(id: string): Cell | undefined {
    return this.byId.get(id);
  }
}

function buildIndex(features: GridFeature[]): Flatbush | null {
  if (features.length === 0) return null;
  const index = new Flatbush(features.length);
  for (const f of features) {
    const [minX, minY, maxX, maxY] = bbox(f.geometry);
    index.add(minX, minY, maxX, maxY);
  }
  index.finish();
  return index;
}

function bbox(g: GridFeature['geometry']): [number, number, number, number] {
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const poly of polys)
    for (const [x, y] of poly[0]!) {
      minX = Math.min(minX, x); maxX = Math.max(maxX, x);
      minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
  return [minX, minY, maxX, maxY];
}
