import type { Knex } from 'knex';

/**
 * Notifications: the in-app inbox row and its outbox push are written in the caller's transaction, so a
 * crash loses none and a retried step (same dedupeKey) sends none twice. OWNER: notifications work (stub).
 */
export interface NotificationInput {
  userId: string;
  /** e.g. pledge_received, campaign_succeeded, campaign_failed, campaign_cancelled, payment_failed, pledge_dropped, payment_reminder */
  type: string;
  title: string;
  body?: string;
  data?: Record<string, unknown>;
  /** Unique per logical notification, e.g. `pledge_received:<pledgeId>`. */
  dedupeKey: string;
}

export async function notify(_db: Knex | Knex.Transaction, _n: NotificationInput): Promise<void> {
  // STUB
}

/** One notification per backer whose pledge on the campaign is in one of `statuses` (bulk, for outcomes). */
export async function notifyBackers(
  _db: Knex | Knex.Transaction,
  _input: { campaignId: string; pledgeStatuses: readonly string[]; type: string; title: string; body?: string; dedupePrefix: string },
): Promise<number> {
  return 0; // STUB
}

/** Queues an HMAC-signed webhook to the campaign owner's URL, when one is configured. */
export async function enqueueCreatorWebhook(
  _db: Knex | Knex.Transaction,
  _input: { campaignId: string; event: string; data: Record<string, unknown>; dedupeKey: string },
): Promise<void> {
  // STUB
}
