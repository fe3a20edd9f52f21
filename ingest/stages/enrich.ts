import type { GridIndex } from '../../core/grids.js';
import { NO_GRID } from '../../core/records.js';

export interface EnrichDeps {
  grids: GridIndex;
  /** a sensor's registered cell (CONTRACT: for sensors, their registered cell) */
  sensorCell: (sensorId: string) => string | undefined;
  /** a drone's last known cell, for a detection without its own position */
  droneCell: (droneId: string) => string | undefined;
}

/** enrich: the grid cell of a position, through the grid's spatial index. */
export function cellOfPosition(deps: EnrichDeps, lat: number, lon: number): string {
  return deps.grids.cellAt(lat, lon);
}

export function cellOfEvent(deps: EnrichDeps, droneId: string, lat?: number, lon?: number): string {
  if (lat !== undefined && lon !== undefined) return deps.grids.cellAt(lat, lon);
  return deps.droneCell(droneId) ?? NO_GRID;
}

export function cellOfSensor(deps: EnrichDeps, sensorId: string): string {
  return deps.sensorCell(sensorId) ?? NO_GRID;
}
