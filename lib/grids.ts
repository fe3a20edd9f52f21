import { readFileSync } from 'node:fs';
import { GridCollection, GridIndex } from '../core/grids.js';
import { projectPath } from './paths.js';

export const SAMPLE_GRIDS_FILE = projectPath('assets', 'sample-county.geojson');

/** Loads and validates a grid file; throws one line naming the file and the first problems. */
export function loadGrids(file: string = SAMPLE_GRIDS_FILE): GridIndex {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`invalid setting GRIDPATROL_GRIDS_FILE=${JSON.stringify(file)}: cannot read a JSON file there (${(err as Error).message})`);
  }
  const parsed = GridCollection.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid setting GRIDPATROL_GRIDS_FILE=${JSON.stringify(file)}: not a GeoJSON FeatureCollection of grid cells (${first})`);
  }
  return new GridIndex(parsed.data);
}
