import { issueAllDeferredPledgeReceipts, issueDeferredPledgeReceipts } from '../billing/pledgeReceipts';
import { createCollection, type CollectionDeps } from './collection';
import { createDroppedPledgeWindow, type DroppedPledgeWindowDeps } from './droppedPledgeWindow';

/**
 * One page of a campaign's settlement: the next pledges after a keyset cursor (by id) that still need the
 * settlement's action, collected or voided SETTLEMENT_CONCURRENCY at a time. A pledge whose charge failed
 * (now or in an earlier pass) gets its dropped-pledge window. Progress is reported as the contiguous
 * processed prefix, so a retry resumes from it; whatever a retry redoes is a no-op (status guards, business
 * keys).
 */

export interface SettleBatchInput {
  campaignId: string;
  action: 'collect' | 'void';
  /** Exclusive: the batch starts after this pledge id (null for the first batch). */
  afterPledgeId: string | null;
  batchSize: number;
}

export interface SettleBatchResult {
  /** The cursor for the next batch (the last pledge this batch covered, or the input cursor when none). */
  lastPledgeId: string | null;
  /** No pledge after lastPledgeId needs this action. */
  done: boolean;
  processed: number;
  collected: number;
  /** Pledges left payment_failed (each in its dropped-pledge window). */
  failed: number;
  voided: number;
}

/** The contiguous processed prefix, and what it did, so a retry resumes and keeps counting. */
export interface BatchProgress {
  lastPledgeId: string | null;
  processed: number;
  collected: number;
  failed: number;
  voided: number;
}

/** How the caller follows a batch: where an earlier try got to, each step of progress, and when to stop. */
export interface BatchTracking {
  /** The progress an earlier try of this batch reported, to resume from. */
  resumed?: BatchProgress;
  /** Called after every pledge, with a copy of the progress. */
  progressed(progress: BatchProgress): void;
  /** True once the batch must take no more pledges (cancelled, shutting down). */
  stopped(): boolean;
}

/** The batch stopped early on request; the last progress reported is where a retry resumes. */
export class SettlementStoppedError extends Error {
  constructor() {
    super('settlement batch stopped; resume from the last progress reported');
    this.name = 'SettlementStoppedError';
  }
}

/** Collections between two bulk issues of receipts during a page (each issue is a handful of statements). */
const RECEIPT_CHUNK = 50;

export type SettlementBatchDeps = CollectionDeps & DroppedPledgeWindowDeps;

/** Runs `work` over `items` with at most `limit` in flight; stops taking new items once `stop()` says so. */
async function boundedPool<T>(items: readonly T[], limit: number, stop: () => boolean, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const lane = async () => {
    while (next < items.length && firstError === undefined && !stop()) {
      const i = next++;
      try {
        await work(items[i]!, i);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (firstError !== undefined) throw firstError;
}

export function createSettlementBatches(deps: SettlementBatchDeps) {
  const collection = createCollection(deps);
  const droppedPledgeWindow = createDroppedPledgeWindow(deps);

  return {
    /** Settles one batch; throws SettlementStoppedError when `tracking.stopped()` cut it short. */
    async settle(input: SettleBatchInput, tracking: BatchTracking): Promise<SettleBatchResult> {
      const progress: BatchProgress = tracking.resumed ?? { lastPledgeId: input.afterPledgeId, processed: 0, collected: 0, failed: 0, voided: 0 };
      const rows = await collection.pledgesToSettle(input.campaignId, input.action, progress.lastPledgeId, input.batchSize);

      const finished = new Array<boolean>(rows.length).fill(false);
      let prefix = 0;
      const complete = (i: number) => {
        finished[i] = true;
        while (prefix < rows.length && finished[prefix]) prefix++;
        if (prefix > 0) progress.lastPledgeId = rows[prefix - 1]!.id;
        tracking.progressed({ ...progress });
      };

      // Receipts are issued in bulk while the page's collections go on (one issuer at a time, every RECEIPT_CHUNK
      // collections), so the page ends with only its last few left to issue; an issuer's error fails the page.
      let sinceIssue = 0;
      let issuing: Promise<unknown> = Promise.resolve();
      let issuerBusy = false;
      const issueSome = () => {
        if (issuerBusy || sinceIssue < RECEIPT_CHUNK) return;
        issuerBusy = true;
        sinceIssue = 0;
        issuing = issueDeferredPledgeReceipts(deps.db, input.campaignId, deps.config).finally(() => (issuerBusy = false));
        issuing.catch(() => {}); // awaited (and thrown) below
      };

      const pool = boundedPool(rows, deps.config.SETTLEMENT_CONCURRENCY, () => tracking.stopped(), async (p, i) => {
        if (input.action === 'collect' && (p.status === 'active' || p.status === 'payment_failed')) {
          // The receipt is issued with the page's others below, not in this collection's transaction.
          const o = await collection.collectPledge(p, 'deferred');
          // A failed charge (now or in an earlier pass) is the window's to retry: make sure it is open.
          if (o.kind === 'failed') await droppedPledgeWindow.open(o.pledge, o.dropDeadline);
          if (o.kind === 'collected') {
            progress.collected++;
            sinceIssue++;
            issueSome();
          }
          if (o.kind === 'failed') progress.failed++;
        } else {
          const o = await collection.voidPledge(p);
          if (o.kind === 'voided') progress.voided++;
        }
        progress.processed++;
        complete(i);
      });
      try {
        await pool;
      } finally {
        await issuing.catch(() => {}); // never leave an issuer running past the page, even a failed one
      }
      await issuing;
      // The page's last receipts, and whatever an earlier (dead) attempt left deferred; also on a stop, so a
      // shutdown leaves none behind (markSettled issues any that are left all the same).
      if (input.action === 'collect') await issueAllDeferredPledgeReceipts(deps.db, input.campaignId, deps.config);
      if (tracking.stopped()) throw new SettlementStoppedError();
      if (progress.collected > 0) await collection.refreshCollectedCents(input.campaignId);

      return {
        lastPledgeId: rows.length ? rows[rows.length - 1]!.id : progress.lastPledgeId,
        done: rows.length < input.batchSize,
        processed: progress.processed,
        collected: progress.collected,
        failed: progress.failed,
        voided: progress.voided,
      };
    },
  };
}
