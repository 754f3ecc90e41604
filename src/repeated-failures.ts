/**
 * A failure that repeats for as long as its cause lasts (every telemetry
 * batch, every CONNECT during a database outage) is reported when it starts
 * and then once per interval with how many there were since, instead of one
 * line (and stack) each.
 */
export class RepeatedFailures<T> {
  private count = 0;
  private last: T | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly report: (count: number, sample: T) => void, private readonly intervalMs = 10_000) {}

  record(sample: T): void {
    if (this.timer === undefined) {
      this.report(1, sample);
      this.timer = setTimeout(() => this.summarise(), this.intervalMs).unref();
      return;
    }
    this.count++;
    this.last = sample;
  }

  private summarise(): void {
    this.timer = undefined;
    if (this.count === 0) return;
    const [count, sample] = [this.count, this.last as T];
    this.count = 0;
    this.last = undefined;
    this.report(count, sample);
    this.timer = setTimeout(() => this.summarise(), this.intervalMs).unref();
  }
}
