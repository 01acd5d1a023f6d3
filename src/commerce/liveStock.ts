import type { Db } from '../infra/db';

/**
 * Live stock for product reads, with one query serving every read that asked within the same turn of the
 * event loop (and, while `maxInFlight` queries are out, every read that asks until one comes back). Each read
 * still sees stock as of a moment after it arrived: a batch's query is sent only after all its reads joined it,
 * never shared with a query already on its way. Under load one round trip answers dozens of reads; alone, a read
 * waits for nothing but its own query.
 *
 * Tenancy (DESIGN.md, invariant 4): rows are matched to a read by store id too, so a variant id of another
 * store counts as absent (no units), exactly as the per-store query it replaces.
 */

interface Waiter {
  storeId: string;
  variantIds: readonly string[];
  resolve(available: Map<string, number>): void;
  reject(err: unknown): void;
}

/** Variant ids per query at most (a read names its product's variants, up to 100). */
const MAX_IDS_PER_QUERY = 2_000;

export class LiveStock {
  private pending: Waiter[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    private readonly db: Db,
    private readonly maxInFlight = 4,
  ) {}

  /** Sellable units per variant right now (total - reserved - sold); variants not in the store are left out. */
  available(storeId: string, variantIds: readonly string[]): Promise<Map<string, number>> {
    if (variantIds.length === 0) return Promise.resolve(new Map());
    return new Promise((resolve, reject) => {
      this.pending.push({ storeId, variantIds, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.pending.length === 0 || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    // setImmediate runs after the poll phase: every request read from the sockets in this turn has joined.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight >= this.maxInFlight || this.pending.length === 0) return;
    const batch: Waiter[] = [];
    const ids = new Set<string>();
    while (this.pending.length > 0 && (batch.length === 0 || ids.size + this.pending[0]!.variantIds.length <= MAX_IDS_PER_QUERY)) {
      const w = this.pending.shift()!;
      batch.push(w);
      for (const id of w.variantIds) ids.add(id);
    }
    this.inFlight += 1;
    this.query([...ids])
      .then((rows) => {
        for (const w of batch) {
          const available = new Map<string, number>();
          for (const id of w.variantIds) {
            const row = rows.get(id);
            if (row && row.store_id === w.storeId) available.set(id, row.available);
          }
          w.resolve(available);
        }
      })
      .catch((err: unknown) => {
        for (const w of batch) w.reject(err);
      })
      .finally(() => {
        this.inFlight -= 1;
        this.schedule();
      });
    this.schedule();
  }

  private async query(variantIds: string[]): Promise<Map<string, { store_id: string; available: number }>> {
    // One array parameter, not an IN list: the statement's text is the same whatever the batch's size.
    const result = (await this.db.raw(
      'SELECT variant_id, store_id, total_stock - reserved - sold AS available FROM inventory WHERE variant_id = ANY(?::uuid[])',
      [variantIds],
    )) as { rows: { variant_id: string; store_id: string; available: number }[] };
    const rows = result.rows;
    return new Map(rows.map((r) => [r.variant_id, r]));
  }
}
