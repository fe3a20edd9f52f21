export interface BatterySettings {
  initialPct: number;
  /** drain while hovering (and the base load in flight), percent per second */
  hoverPctPerS: number;
  /** extra drain per metre flown through the air, percent */
  perMetrePct: number;
  /** extra drain per second per m/s of wind, percent */
  windPctPerSPerMs: number;
  /** kept above what flying home needs: the drone turns home at need + margin */
  marginPct: number;
  /** charging on the dock, percent per second */
  chargePctPerS: number;
  /** a charging drone takes off again at this level */
  resumePct: number;
}

/** 6S lithium-polymer pack: 4.2 V a cell full, about 3.5 V empty; sags under load */
const CELLS = 6;

/**
 * The battery: drains per second of flight (hover), per metre flown through the air and more in
 * wind; charges on the dock. Estimates what a flight home costs, pessimistically.
 */
export class Battery {
  pct: number;
  /** > 1 after a battery fault: everything drains faster */
  drainFactor = 1;

  constructor(readonly s: BatterySettings) {
    this.pct = s.initialPct;
  }

  /** drain of one step in the air */
  fly(dtS: number, airspeedMs: number, windMs: number): void {
    const used = (this.s.hoverPctPerS + this.s.perMetrePct * airspeedMs + this.s.windPctPerSPerMs * windMs) * dtS * this.drainFactor;
    this.pct = Math.max(0, this.pct - used);
  }

  charge(dtS: number): void {
    this.pct = Math.min(100, this.pct + this.s.chargePctPerS * dtS);
  }

  /**
   * Percent needed to fly `distanceM` home and land from `altitudeM`: at the ground speed left
   * against a headwind 20 % stronger than the average measured plus 2 m/s of gusts, at full
   * airspeed, with 15 % extra.
   */
  costHomePct(distanceM: number, altitudeM: number, windMs: number, maxAirspeedMs: number, cruiseMs: number, descentMs: number): number {
    const headwind = windMs * 1.2 + 2;
    const ground = Math.max(2, Math.min(cruiseMs, maxAirspeedMs - headwind));
    const flightS = distanceM / ground;
    const perS = (this.s.hoverPctPerS + this.s.perMetrePct * maxAirspeedMs + this.s.windPctPerSPerMs * headwind) * this.drainFactor;
    const landingS = altitudeM / descentMs + 5;
    return (flightS * perS + landingS * this.s.hoverPctPerS * this.drainFactor) * 1.15;
  }

  /** pack voltage: open-circuit by charge, less a sag under load (0 on the ground, 1 at full power) */
  voltage(load: number): number {
    const cell = 3.5 + 0.7 * (this.pct / 100) - 0.12 * load;
    return CELLS * cell;
  }
}
