/**
 * Telemetry events and metrics, one JSON line each. Under the Functions host console output becomes
 * Application Insights traces, which the alert rules in infra/ query by event name.
 *
 * Dimensions are typed as ids, counts and enums: callers pass tenant ids, request ids, store names and
 * keyed hashes, never a phone number, name or message text.
 */
export type Dimensions = Record<string, string | number | boolean | undefined>;

export interface Telemetry {
  event(name: string, dimensions?: Dimensions): void;
  metric(name: string, value: number, dimensions?: Dimensions): void;
}

export type LogSink = (line: string) => void;

export class JsonLineTelemetry implements Telemetry {
  constructor(private readonly sink: LogSink = (line) => console.log(line)) {}
  event(name: string, dimensions: Dimensions = {}): void {
    this.sink(JSON.stringify({ event: name, ...dimensions }));
  }
  metric(name: string, value: number, dimensions: Dimensions = {}): void {
    this.sink(JSON.stringify({ metric: name, value, ...dimensions }));
  }
}
