import { recordPledgeCharge } from '../billing/pledgeCharges';
import type { Config } from '../config';
import { formatMoney, type PledgeStatus } from '../domain/campaigns';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { notify } from '../notifications/notify';
import { PaymentRequestError, PaymentStateError, type PaymentGateway } from '../payments/gateway';
import { paymentOutcome } from '../payments/outcomes';
import type { PaymentRecord } from '../payments/paymentRecords';
import { createPaymentService, PaymentNotAllowedError } from '../payments/paymentService';
import type { RetryPaymentResult } from './contract';
import { recordLedgerEntry } from './ledger';
import { chargeKey, recordHoldVoided } from './pledgePayments';
import type { PledgeRow } from './pledgeRow';
import { loadPledge } from './pledgeStore';

/**
 * What happens to ONE pledge's money when its campaign settles or while it sits in the dropped-pledge
 * window: collect it (capture the hold or charge the saved card), void it, or retry a failed charge.
 *
 * Every step is safe to repeat. Payment calls carry deterministic business keys, and every database change
 * is guarded by the pledge's current status, so a retried activity (or a batch run twice) moves money and
 * totals exactly once.
 */

export type { PledgeRow };

export interface CollectionDeps {
  config: Config;
  db: Db;
  redis: RedisClient;
  logger: Logger;
  payments: PaymentGateway;
}


/** Pledges the settlement must act on, per action. */
export const SETTLEMENT_STATUSES = {
  // payment_failed is revisited only to make sure its dropped-pledge window exists (a crash may have hit
  // between recording the failure and starting the window); it is never charged by the batch. Pledges still
  // pending or awaiting authentication at the deadline never completed: they are voided, not collected.
  collect: ['active', 'payment_failed', 'pending', 'requires_action'],
  void: ['active', 'pending', 'requires_action'],
} as const satisfies Record<'collect' | 'void', readonly PledgeStatus[]>;

export type CollectOutcome =
  | { kind: 'collected'; pledgeId: string; campaignId: string; amountCents: number }
  | {
      kind: 'failed';
      pledge: PledgeRow;
      attempt: number;
      failureCode: string;
      failureMessage: string;
      dropDeadline: Date;
      /** False when the pledge was already payment_failed (a retry, or a revisit). */
      firstFailure: boolean;
    }
  /** Nothing to do in its current status (collected, dropped, ...). */
  | { kind: 'skipped'; pledgeId: string; status: PledgeStatus };

export type VoidOutcome = { kind: 'voided' | 'skipped' | 'refused'; pledgeId: string; detail?: string };

/**
 * When a collection's receipt is issued: 'now' in its own transaction (the dropped-pledge window), or 'deferred' to
 * the settlement page's batch (src/billing/pledgeReceipts.ts), so a page's collections do not queue on the creator.
 */
export type ReceiptTiming = 'now' | 'deferred';

type MoneyResult =
  | { ok: true; record: PaymentRecord; ledgerKind: 'capture' | 'charge'; ledgerKey: string; attempt: number }
  | { ok: false; attempt: number; code: string; message: string };

export function createCollection(deps: CollectionDeps) {
  const { db, config, logger } = deps;
  const service = createPaymentService(deps);
  const load = (pledgeId: string) => loadPledge(db, pledgeId);

  /**
   * The attempt number to charge under. An attempt above last_failed_attempt has an unknown outcome (the
   * call may have charged before the worker died), so it is replayed with the same key; only after a
   * recorded decline does a new attempt (a new key) begin. The increment is persisted BEFORE the call.
   */
  async function claimAttempt(p: PledgeRow): Promise<number> {
    let current = p;
    for (;;) {
      if (current.charge_attempts > current.last_failed_attempt) return current.charge_attempts;
      const bumped = (await db('pledges')
        .where({ id: current.id, charge_attempts: current.charge_attempts })
        .update({ charge_attempts: current.charge_attempts + 1, updated_at: db.fn.now() })
        .returning('charge_attempts')) as Array<{ charge_attempts: number }>;
      if (bumped[0]) return bumped[0].charge_attempts;
      current = (await load(p.id))!;
    }
  }

  /** The saved card to charge off-session: the pledge's own columns, else the setup record they came from. */
  async function savedCard(p: PledgeRow): Promise<{ customerId: string; paymentMethod: string } | undefined> {
    if (p.provider_customer_id && p.provider_payment_method) return { customerId: p.provider_customer_id, paymentMethod: p.provider_payment_method };
    if (!p.payment_key) return undefined;
    const setup = await service.refreshPayment({ businessKey: p.payment_key }).catch(() => undefined);
    if (setup?.kind === 'setup' && setup.status === 'succeeded' && setup.providerCustomerId && setup.providerPaymentMethod) {
      return { customerId: setup.providerCustomerId, paymentMethod: setup.providerPaymentMethod };
    }
    return undefined;
  }

  async function chargeSavedCard(p: PledgeRow): Promise<MoneyResult> {
    const attempt = await claimAttempt(p);
    const card = await savedCard(p);
    if (!card) return { ok: false, attempt, code: 'no_saved_card', message: 'The pledge has no saved card to charge.' };
    const businessKey = chargeKey(p.id, attempt);
    let r: PaymentRecord;
    try {
      r = await service.chargeOffSession({
        businessKey,
        amountCents: p.amount_cents,
        currency: p.currency,
        customerId: card.customerId,
        paymentMethod: card.paymentMethod,
        customerRef: p.backer_id,
        metadata: { pledge_id: p.id, campaign_id: p.campaign_id },
      });
    } catch (err) {
      // The provider refused the request itself (card no longer attached, customer gone): the backer must
      // give a new card, exactly as after a decline.
      if (err instanceof PaymentRequestError) return { ok: false, attempt, code: err.code, message: err.message };
      throw err;
    }
    switch (paymentOutcome(r)) {
      case 'paid':
        return { ok: true, record: r, ledgerKind: 'charge', ledgerKey: businessKey, attempt };
      case 'declined':
        return { ok: false, attempt, code: r.failureCode ?? 'card_declined', message: r.failureMessage ?? 'The card was declined.' };
      case 'requires_action':
        // Off-session nobody can authenticate; void the intent so it can never complete later beside a new attempt.
        await service.cancelPayment({ businessKey }).catch((err: unknown) => logger.warn({ err, businessKey }, 'could not void an unauthenticated charge'));
        return { ok: false, attempt, code: r.failureCode ?? 'authentication_required', message: r.failureMessage ?? 'The card requires authentication.' };
      case 'canceled':
        return { ok: false, attempt, code: 'payment_canceled', message: 'The charge was canceled.' };
      default:
        // Not decided yet: the activity retries and replays the same key.
        throw new Error(`Charge ${businessKey} is still ${r.status}; will ask again.`);
    }
  }

  async function captureHold(p: PledgeRow, businessKey: string): Promise<MoneyResult> {
    const attempt = await claimAttempt(p);
    try {
      const r = await service.capturePayment({ businessKey });
      if (paymentOutcome(r) === 'paid') return { ok: true, record: r, ledgerKind: 'capture', ledgerKey: `${businessKey}:capture`, attempt };
      return { ok: false, attempt, code: 'capture_failed', message: `The hold could not be captured (${r.status}).` };
    } catch (err) {
      // The hold expired or was voided: only a new card can pay now.
      if (err instanceof PaymentNotAllowedError || err instanceof PaymentStateError) {
        return { ok: false, attempt, code: 'authorization_expired', message: err.message };
      }
      if (err instanceof PaymentRequestError) return { ok: false, attempt, code: err.code, message: err.message };
      throw err;
    }
  }

  function takeMoney(p: PledgeRow): Promise<MoneyResult> {
    if (p.payment_mode === 'authorize' && p.payment_key) return captureHold(p, p.payment_key);
    return chargeSavedCard(p);
  }

  /**
   * Marks the pledge collected and records the money in the ledger and as the creator's seller charge, once. The campaign's collected_cents is
   * not touched here: every pledge of a settling campaign would queue on that one row. It is recomputed
   * from the pledge rows by `refreshCollectedCents` after each batch (idempotent, unlike adding deltas).
   */
  async function recordCollected(p: PledgeRow, m: Extract<MoneyResult, { ok: true }>, receipt: ReceiptTiming): Promise<void> {
    const amount = m.record.capturedCents;
    await db.transaction(async (trx) => {
      const moved = await trx('pledges')
        .where({ id: p.id })
        .whereIn('status', ['active', 'payment_failed'])
        .update({
          status: 'collected',
          collected_cents: amount,
          collected_at: trx.fn.now(),
          failure_code: null,
          failure_message: null,
          drop_deadline: null,
          updated_at: trx.fn.now(),
        });
      if (!moved) return;
      await recordLedgerEntry(trx, {
        campaignId: p.campaign_id,
        pledgeId: p.id,
        kind: m.ledgerKind,
        amountCents: amount,
        currency: m.record.currency ?? p.currency,
        provider: m.record.provider,
        providerId: m.record.providerPaymentId!,
        businessKey: m.ledgerKey,
      });
      // What the collection owes whom (seller charge, fee, receipt), committed with the collection itself.
      await recordPledgeCharge(
        trx,
        {
          pledgeId: p.id,
          campaignId: p.campaign_id,
          backerId: p.backer_id,
          currency: m.record.currency ?? p.currency,
          capturedCents: amount,
          paymentKey: m.record.businessKey,
          provider: m.record.provider,
          providerId: m.record.providerPaymentId!,
        },
        config,
        receipt,
      );
    });
  }

  /** Records a decline; the first one opens the dropped-pledge window and tells the backer. */
  async function recordFailed(p: PledgeRow, m: Extract<MoneyResult, { ok: false }>): Promise<Extract<CollectOutcome, { kind: 'failed' }> | undefined> {
    return db.transaction(async (trx) => {
      const row = (await trx('pledges').where({ id: p.id }).forUpdate().first()) as PledgeRow;
      if (row.status !== 'active' && row.status !== 'payment_failed') return undefined;
      const firstFailure = row.status === 'active';
      const dropDeadline = row.drop_deadline ?? new Date(Date.now() + config.DROPPED_PLEDGE_WINDOW);
      const [updated] = (await trx('pledges')
        .where({ id: p.id })
        .update({
          status: 'payment_failed',
          failure_code: m.code,
          failure_message: m.message.slice(0, 1000),
          drop_deadline: dropDeadline,
          last_failed_attempt: Math.max(row.last_failed_attempt, m.attempt),
          updated_at: trx.fn.now(),
        })
        .returning('*')) as PledgeRow[];
      if (firstFailure) {
        await notify(trx, {
          userId: p.backer_id,
          type: 'payment_failed',
          title: 'Your pledge could not be charged',
          body: `We could not charge ${formatMoney(p.amount_cents, p.currency)} for your pledge. Update your payment method before ${dropDeadline.toISOString()} or the pledge will be dropped.`,
          data: { pledge_id: p.id, campaign_id: p.campaign_id, failure_code: m.code, drop_deadline: dropDeadline.toISOString() },
          dedupeKey: `payment_failed:${p.id}:${m.attempt}`,
        });
      }
      return { kind: 'failed' as const, pledge: updated!, attempt: m.attempt, failureCode: m.code, failureMessage: m.message, dropDeadline, firstFailure };
    });
  }

  async function outcomeOf(p: PledgeRow, m: MoneyResult, receipt: ReceiptTiming = 'now'): Promise<CollectOutcome> {
    if (m.ok) {
      await recordCollected(p, m, receipt);
      return { kind: 'collected', pledgeId: p.id, campaignId: p.campaign_id, amountCents: m.record.capturedCents };
    }
    const failed = await recordFailed(p, m);
    if (failed) return failed;
    const now = (await load(p.id))!;
    return { kind: 'skipped', pledgeId: p.id, status: now.status };
  }

  /** collected_cents := what the campaign's collected pledges hold; safe to repeat at any time. */
  async function refreshCollectedCents(campaignId: string): Promise<number> {
    const { rows } = await db.raw<{ rows: Array<{ collected_cents: number }> }>(
      `UPDATE campaigns c
          SET collected_cents = t.total, updated_at = now()
         FROM (SELECT coalesce(sum(collected_cents), 0) AS total FROM pledges WHERE campaign_id = ? AND status = 'collected') t
        WHERE c.id = ?
       RETURNING c.collected_cents`,
      [campaignId, campaignId],
    );
    return rows[0]?.collected_cents ?? 0;
  }

  /** A charge retry in the dropped-pledge window (right after a new card, or the final one). */
  async function retryCharge(pledgeId: string): Promise<CollectOutcome> {
    const p = await load(pledgeId);
    if (!p) throw new Error(`No pledge ${pledgeId}.`);
    if (p.status !== 'payment_failed') return { kind: 'skipped', pledgeId, status: p.status };
    return outcomeOf(p, await takeMoney(p));
  }

  return {
    refreshCollectedCents,

    /** The next page of a campaign's pledges that still need `action`, in id order after the cursor. */
    async pledgesToSettle(campaignId: string, action: keyof typeof SETTLEMENT_STATUSES, afterPledgeId: string | null, limit: number): Promise<PledgeRow[]> {
      const query = db('pledges').where({ campaign_id: campaignId }).whereIn('status', SETTLEMENT_STATUSES[action]).orderBy('id').limit(limit);
      if (afterPledgeId) query.where('id', '>', afterPledgeId);
      return (await query) as PledgeRow[];
    },

    /**
     * Collects an active pledge at settlement. A payment_failed pledge is not charged again here (its
     * window owns retries); it is reported as failed so the caller makes sure the window exists.
     */
    async collectPledge(p: PledgeRow, receipt: ReceiptTiming = 'now'): Promise<CollectOutcome> {
      if (p.status === 'payment_failed') {
        return {
          kind: 'failed',
          pledge: p,
          attempt: p.last_failed_attempt,
          failureCode: p.failure_code ?? 'payment_failed',
          failureMessage: p.failure_message ?? '',
          dropDeadline: p.drop_deadline ?? new Date(Date.now() + config.DROPPED_PLEDGE_WINDOW),
          firstFailure: false,
        };
      }
      if (p.status !== 'active') return { kind: 'skipped', pledgeId: p.id, status: p.status };
      return outcomeOf(p, await takeMoney(p), receipt);
    },

    /** The window's charge retry, as the window sees it; a collection refreshes the campaign's collected_cents. */
    async chargeInWindow(pledgeId: string): Promise<RetryPaymentResult> {
      const o = await retryCharge(pledgeId);
      if (o.kind === 'collected') {
        await refreshCollectedCents(o.campaignId);
        return { status: 'collected' };
      }
      if (o.kind === 'failed') return { status: 'payment_failed', failure_code: o.failureCode };
      // Already collected by an earlier try of this very step; any other status is not ours to retry.
      return o.status === 'collected' ? { status: 'collected' } : { status: 'payment_failed', failure_code: `pledge_${o.status}` };
    },

    /**
     * Voids a pledge of a failed or cancelled campaign: the hold is released at the provider (a saved card
     * holds no money, so it needs no provider call). Tier slots are NOT freed: the campaign is over, and the
     * pledge list keeps showing which reward each backer had chosen.
     */
    async voidPledge(p: PledgeRow): Promise<VoidOutcome> {
      if (!(SETTLEMENT_STATUSES.void as readonly string[]).includes(p.status)) return { kind: 'skipped', pledgeId: p.id };
      let released: PaymentRecord | undefined;
      if (p.payment_mode === 'authorize' && p.payment_key) {
        try {
          released = await service.cancelPayment({ businessKey: p.payment_key });
        } catch (err) {
          // No payments row yet: the pledge never reached the provider, so there is nothing to release.
          const missing = err instanceof PaymentRequestError && err.code === 'resource_missing';
          if (!missing) {
            if (err instanceof PaymentNotAllowedError || err instanceof PaymentStateError || err instanceof PaymentRequestError) {
              logger.error({ err, pledgeId: p.id }, 'hold could not be voided; pledge left for an operator');
              return { kind: 'refused', pledgeId: p.id, detail: err.message };
            }
            throw err;
          }
        }
      }
      await db.transaction(async (trx) => {
        const moved = await trx('pledges')
          .where({ id: p.id })
          .whereIn('status', SETTLEMENT_STATUSES.void)
          .update({ status: 'voided', cancelled_at: trx.fn.now(), updated_at: trx.fn.now() });
        // Written only by the call that voided the pledge, in the same transaction.
        if (moved && released) await recordHoldVoided(trx, p, released);
      });
      return { kind: 'voided', pledgeId: p.id };
    },
  };
}

export type Collection = ReturnType<typeof createCollection>;
