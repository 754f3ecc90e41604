/**
 * Token buckets for one connection: messages per second and bytes per
 * second, each with a burst of one second's worth. Refilled lazily on use,
 * so an idle connection costs nothing.
 */
export class RateLimiter {
  private messages: number;
  private bytes: number;
  private last: number;

  constructor(private readonly messagesPerSecond: number, private readonly bytesPerSecond: number, private readonly now: () => number = Date.now) {
    this.messages = messagesPerSecond;
    this.bytes = bytesPerSecond;
    this.last = now();
  }

  /** Takes one message of `size` bytes; false when either bucket is empty. */
  take(size: number): boolean {
    const now = this.now();
    const elapsed = (now - this.last) / 1000;
    if (elapsed > 0) {
      this.messages = Math.min(this.messagesPerSecond, this.messages + elapsed * this.messagesPerSecond);
      this.bytes = Math.min(this.bytesPerSecond, this.bytes + elapsed * this.bytesPerSecond);
      this.last = now;
    }
    if (this.messages < 1 || this.bytes < size) return false;
    this.messages -= 1;
    this.bytes -= size;
    return true;
  }
}
