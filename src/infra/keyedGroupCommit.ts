/**
 * Group commit in one process: per key (a campaign, a gateway operation), one batch runs at a time, and
 * whatever arrives while it runs becomes the next batch. An idle key's request runs at once and alone (no
 * timer, no added wait); a hot key's requests share one statement or one round trip, as many as queued behind
 * the last one (up to maxBatch). Used by new pledges (issue 10) and the simulated gateway's holds.
 */
export function createGroupCommit<I, O>(run: (key: string, items: I[]) => Promise<O[]>, maxBatch = 64): (key: string, item: I) => Promise<O> {
  type Waiter = { item: I; resolve: (out: O) => void; reject: (err: unknown) => void };
  const queues = new Map<string, Waiter[]>();

  async function drain(key: string, queue: Waiter[]): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      try {
        const out = await run(key, batch.map((w) => w.item));
        batch.forEach((w, i) => w.resolve(out[i]!));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    // Nothing came in during the last batch: the next arrival starts a new drain.
    queues.delete(key);
  }

  return (key, item) =>
    new Promise<O>((resolve, reject) => {
      const queue = queues.get(key);
      if (queue) {
        queue.push({ item, resolve, reject });
        return;
      }
      const fresh = [{ item, resolve, reject }];
      queues.set(key, fresh);
      void drain(key, fresh);
    });
}
