import type { Clock } from '../../shared/domain';
import type { CheckpointData, CheckpointStore } from '../../shared/retention';
import type { Dimensions, Telemetry } from '../../shared/telemetry';

/** A clock the test moves by hand (retention, deadlines, backoff). */
export class ManualClock implements Clock {
  constructor(private current: Date = new Date('2026-01-01T00:00:00Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
  set(date: Date): void {
    this.current = new Date(date);
  }
}

/** Collects what was emitted: tests assert on it (and sweep it for personal data). */
export class RecordingTelemetry implements Telemetry {
  readonly events: { name: string; dimensions: Dimensions }[] = [];
  readonly metrics: { name: string; value: number; dimensions: Dimensions }[] = [];
  event(name: string, dimensions: Dimensions = {}): void {
    this.events.push({ name, dimensions });
  }
  metric(name: string, value: number, dimensions: Dimensions = {}): void {
    this.metrics.push({ name, value, dimensions });
  }
}

/** Checkpoints in memory, for unit tests and bench/retention.ts. */
export class InMemoryCheckpoints implements CheckpointStore {
  readonly saved = new Map<string, CheckpointData>();
  writes = 0;
  async get(scope: string, key: string): Promise<CheckpointData | undefined> {
    const data = this.saved.get(`${scope}|${key}`);
    return data ? { ...data } : undefined;
  }
  async put(scope: string, key: string, data: CheckpointData): Promise<void> {
    this.writes += 1;
    this.saved.set(`${scope}|${key}`, { ...data });
  }
  async delete(scope: string, key: string): Promise<void> {
    this.saved.delete(`${scope}|${key}`);
  }
}
