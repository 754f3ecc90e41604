/**
 * A tenant's batches in flight, in the order they were started, so that their
 * rows are confirmed in queue order even when a later batch commits first (two
 * large batches of one tenant may be written side by side). One client's rows
 * queue in the order it sent them, so its PUBACKs leave in that order, as MQTT
 * requires (3.1.1 §4.6).
 */
export class AcknowledgementOrder {
  private readonly inFlight = new Map<string, { acknowledge?: () => void }[]>();

  /** A batch of the tenant's starts; call the answer with the batch's confirmations once it has ended. */
  started(tenantId: string): (acknowledge: () => void) => void {
    const slot: { acknowledge?: () => void } = {};
    const batches = this.inFlight.get(tenantId) ?? [];
    batches.push(slot);
    this.inFlight.set(tenantId, batches);
    return (acknowledge) => {
      slot.acknowledge = acknowledge;
      while (batches.length > 0 && batches[0]!.acknowledge) batches.shift()!.acknowledge!();
      if (batches.length === 0 && this.inFlight.get(tenantId) === batches) this.inFlight.delete(tenantId);
    };
  }
}
