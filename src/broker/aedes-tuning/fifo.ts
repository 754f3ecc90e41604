/**
 * A FIFO queue with O(1) push and shift. mqemitter 7 queues messages beyond
 * its concurrency in a plain array and takes them with Array.shift(), which
 * copies the whole array each time: with a large backlog (one fast publisher,
 * a wildcard subscriber) that is quadratic and dominates the broker's CPU.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): number {
    this.items.push(item);
    return this.length;
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact now and then so the array does not grow for ever.
    if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
