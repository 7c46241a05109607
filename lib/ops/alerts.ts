// Capacity alerts with hysteresis (the original design's 70% and 85%): a node enters a level when
// its utilisation reaches the threshold and leaves it only when it falls `hysteresis` below, so a
// node hovering at 70% does not flap.

export type AlertLevel = "ok" | "warning" | "critical";

export interface AlertChange {
  node: string;
  level: AlertLevel;
  previous: AlertLevel;
  utilization: number;
}

export interface CapacityAlertOptions {
  warning?: number;
  critical?: number;
  hysteresis?: number;
}

export const LEVEL_VALUE: Record<AlertLevel, number> = { ok: 0, warning: 1, critical: 2 };

export class CapacityAlerts {
  private readonly levels = new Map<string, AlertLevel>();
  readonly warning: number;
  readonly critical: number;
  readonly hysteresis: number;

  constructor(opts: CapacityAlertOptions = {}) {
    this.warning = opts.warning ?? 0.7;
    this.critical = opts.critical ?? 0.85;
    this.hysteresis = opts.hysteresis ?? 0.05;
  }

  level(node: string): AlertLevel {
    return this.levels.get(node) ?? "ok";
  }

  /** Feeds one observation; returns the change when the node's level moved. */
  observe(node: string, utilization: number): AlertChange | undefined {
    const previous = this.level(node);
    const h = this.hysteresis;
    let level: AlertLevel;
    if (utilization >= this.critical) level = "critical";
    else if (previous === "critical" && utilization > this.critical - h) level = "critical";
    else if (utilization >= this.warning) level = "warning";
    else if (previous !== "ok" && utilization > this.warning - h) level = "warning";
    else level = "ok";
    if (level === previous) return undefined;
    this.levels.set(node, level);
    return { node, level, previous, utilization };
  }

  /** A node left the cluster: forget it (its series go away). */
  forget(node: string): void {
    this.levels.delete(node);
  }

  nodes(): string[] {
    return [...this.levels.keys()];
  }
}
