import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import { PaymentNotAllowedError } from '../payments/paymentService';
import { paymentOutcome, refusedRequest } from '../payments/outcomes';
import type { PaymentRecord } from '../payments/paymentRecords';
import type { TemporalClientProvider } from '../temporal/client';
import { droppedPledgeWorkflowId, retryPaymentUpdate, type RetryPaymentResult } from './contract';
import { recordLedgerEntry } from './ledger';
import type { PledgeServiceDeps } from './pledgeCreation';
import { cardPaymentKey, createPledgePayments } from './pledgePayments';
import { pledgeRefusals } from './pledgeRefusals';
import type { PledgeRow } from './pledgeRow';
import { acceptsPledges, loadPledge, reserveRevision } from './pledgeStore';
import { pledgeJson, type PledgeJson } from './pledgeViews';
import { findCampaign } from './repository';

/**
 * A backer replaces the card behind a pledge.
 *  - In the dropped-pledge window (payment_failed): the new card is saved and the pledge's window workflow
 *    (`pledge:<id>`) is asked, through its `retryPayment` Update, to charge it at once.
 *  - While the campaign is live (active): the card is swapped; an authorized pledge gets a new hold on the new
 *    card before the old hold is voided, so it is never without one.
 * Every new payment gets its own business key from the pledge's `revision`, reserved first (the same counter
 * pledge edits use), so concurrent changes never share a key and the later commit notices the earlier one.
 */

export function createPledgeRecovery(deps: PledgeServiceDeps & { temporal: TemporalClientProvider }) {
  const { db, config, logger } = deps;
  const payments = createPledgePayments(deps);

  /** Provider calls: refusals become 4xx, anything else a 503 (the same request may be retried). */
  async function call(fn: () => Promise<PaymentRecord>): Promise<PaymentRecord> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof PaymentNotAllowedError) throw refusals.conflict('payment_not_allowed', err.message);
      const refused = refusedRequest(err);
      if (refused) {
        throw refusals.unprocessable('payment_method_rejected', `The payment provider refused the payment method: ${refused.message}`, { reason: refused.code });
      }
      logger.error({ err }, 'payment provider call failed while replacing a card');
      throw refusals.unavailable('payment_unavailable', 'The payment provider could not be reached; retry the same request.');
    }
  }

  /** A card that could not be saved or held: 402, the pledge unchanged. */
  const refused = (pledgeId: string, r: PaymentRecord) =>
    pledgeRefusals.cardRefused(
      pledgeId,
      r,
      paymentOutcome(r) === 'requires_action' ? 'This card needs authentication for every charge; use another card.' : r.failureMessage,
    );

  /** Saves the new card under the pledge's next revision. */
  async function saveNewCard(principal: Principal, p: PledgeRow, revision: number, paymentMethod: string): Promise<PaymentRecord> {
    const saved = await call(() => payments.saveCard(p, { businessKey: cardPaymentKey(p.id, 'save_card', revision), paymentMethod, email: principal.email }));
    if (paymentOutcome(saved) !== 'saved') throw refused(p.id, saved);
    return saved;
  }

  /** Dropped-pledge window: save the new card, then have the window's workflow charge it now. */
  async function recover(principal: Principal, p: PledgeRow, paymentMethod: string): Promise<PledgeJson> {
    const revision = await reserveRevision(db, p);
    const saved = await saveNewCard(principal, p, revision, paymentMethod);

    const stored = await db('pledges')
      .where({ id: p.id, status: 'payment_failed', revision })
      .update({
        // From now on the pledge is paid from a saved card, whatever held it before.
        payment_mode: 'save_card',
        payment_key: saved.businessKey,
        payment_method: paymentMethod,
        provider_customer_id: saved.providerCustomerId,
        provider_payment_method: saved.providerPaymentMethod,
        updated_at: db.fn.now(),
      });
    if (!stored) {
      const now = (await loadPledge(db, p.id))!;
      if (now.status === 'collected') return pledgeJson(now);
      throw now.status === 'payment_failed' ? pledgeRefusals.pledgeChanged() : pledgeRefusals.notUpdatable(now.status);
    }

    let result: RetryPaymentResult;
    try {
      result = await deps.temporal.withDeadline(config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
        client.workflow.getHandle(droppedPledgeWorkflowId(p.id)).executeUpdate(retryPaymentUpdate),
      );
    } catch (err) {
      const now = (await loadPledge(db, p.id))!;
      if (now.status === 'collected') return pledgeJson(now);
      // Rejected by the validator: the window is closing (final retry running) or over.
      if (err instanceof WorkflowUpdateFailedError) throw pledgeRefusals.notUpdatable(now.status === 'payment_failed' ? 'past its payment window' : now.status);
      // The window is opened right after the failure is recorded; a request in between may retry shortly.
      if (err instanceof WorkflowNotFoundError) throw refusals.unavailable('payment_window_unavailable', 'The payment window is not open yet; retry shortly.');
      throw err;
    }
    const now = (await loadPledge(db, p.id))!;
    if (result.status === 'collected') return pledgeJson(now);
    throw pledgeRefusals.paymentDeclined(p.id, result.failure_code ?? null, now.failure_message ?? 'The new card was declined; the pledge is still in its payment window.');
  }

  /** Live campaign: swap the card behind an active pledge. */
  async function replace(principal: Principal, p: PledgeRow, paymentMethod: string): Promise<PledgeJson> {
    if (p.payment_method === paymentMethod) return pledgeJson(p);
    const revision = await reserveRevision(db, p);

    if (p.payment_mode === 'save_card') {
      const saved = await saveNewCard(principal, p, revision, paymentMethod);
      const [row] = (await db('pledges')
        .where({ id: p.id, status: 'active', revision })
        .update({
          payment_key: saved.businessKey,
          payment_method: paymentMethod,
          provider_customer_id: saved.providerCustomerId,
          provider_payment_method: saved.providerPaymentMethod,
          updated_at: db.fn.now(),
        })
        .returning('*')) as PledgeRow[];
      if (!row) throw pledgeRefusals.pledgeChanged();
      return pledgeJson(row);
    }

    // Authorized: the new hold first, so the pledge is never without one; then the old one goes.
    const businessKey = cardPaymentKey(p.id, 'authorize', revision);
    const hold = await call(() => payments.placeHold(p, { businessKey, amountCents: p.amount_cents, paymentMethod, revision }));
    if (paymentOutcome(hold) !== 'held') {
      await payments.discardHold(p, businessKey);
      throw refused(p.id, hold);
    }
    const row = await db.transaction(async (trx) => {
      const [updated] = (await trx('pledges')
        .where({ id: p.id, status: 'active', revision, amount_cents: p.amount_cents })
        .update({
          payment_key: businessKey,
          payment_method: paymentMethod,
          provider_customer_id: hold.providerCustomerId,
          provider_payment_method: hold.providerPaymentMethod,
          updated_at: trx.fn.now(),
        })
        .returning('*')) as PledgeRow[];
      if (!updated) return undefined;
      await recordLedgerEntry(trx, {
        campaignId: p.campaign_id,
        pledgeId: p.id,
        kind: 'authorization',
        amountCents: p.amount_cents,
        currency: p.currency.trim(),
        provider: hold.provider,
        providerId: hold.providerPaymentId!,
        businessKey,
      });
      return updated;
    });
    if (!row) {
      await payments.discardHold(p, businessKey);
      throw pledgeRefusals.pledgeChanged();
    }
    if (p.payment_key) await payments.releaseReplacedHold(p, p.payment_key);
    return pledgeJson(row);
  }

  return {
    /** PUT /v1/pledges/{id}/payment-method: while live, or to rescue a failed charge in the dropped-pledge window. */
    async changePaymentMethod(principal: Principal, pledgeId: string, paymentMethod: string): Promise<PledgeJson> {
      const pledge = await loadPledge(db, pledgeId);
      // Another backer's pledge is indistinguishable from a missing one.
      if (!pledge || pledge.backer_id !== principal.id) throw refusals.notFound('pledge');
      const now = new Date();
      if (pledge.status === 'payment_failed' && pledge.drop_deadline && pledge.drop_deadline.getTime() > now.getTime()) {
        return recover(principal, pledge, paymentMethod);
      }
      if (pledge.status === 'active') {
        const campaign = (await findCampaign(db, pledge.campaign_id))!;
        if (acceptsPledges(campaign, now)) return replace(principal, pledge, paymentMethod);
      }
      throw pledgeRefusals.notUpdatable(pledge.status);
    },
  };
}
