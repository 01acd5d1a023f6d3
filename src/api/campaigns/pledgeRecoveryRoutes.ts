import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { z } from 'zod';
import { requirePrincipal } from '../../accounts/authorization';
import { recordLedgerEntry } from '../../campaigns/ledger';
import { pledgeJson, type PledgeRow } from '../../campaigns/pledges';
import type { Principal } from '../../domain/roles';
import { PaymentRequestError } from '../../payments/gateway';
import type { PaymentRecord } from '../../payments/paymentRecords';
import { createPaymentService, PaymentNotAllowedError } from '../../payments/paymentService';
import type { AppDeps } from '../deps';
import { uuidParam, type Api } from '../http/api';
import { Problem, problems } from '../http/problem';
import { droppedPledgeWorkflowId, retryPaymentUpdate, type RetryPaymentResult } from '../../campaigns/contract';

/**
 * PUT /v1/pledges/{id}/payment-method: a backer replaces the card behind a pledge.
 *  - In the dropped-pledge window (payment_failed): the new card is saved and the pledge's window workflow
 *    (`pledge:<id>`) is asked, through its `retryPayment` Update, to charge it at once.
 *  - While the campaign is live (active): the card is swapped; an authorized pledge gets a new hold on the new
 *    card before the old hold is voided, so it is never without one.
 * Every new payment gets its own business key from the pledge's `revision`, reserved first (the same counter
 * pledge edits use), so concurrent changes never share a key and the later commit notices the earlier one.
 */

const Body = z
  .strictObject({
    payment_method: z
      .string()
      .regex(/^pm_[A-Za-z0-9_]{1,250}$/, 'must be a payment method token starting with pm_')
      .openapi({ example: 'pm_card_visa' }),
  })
  .openapi('UpdatePaymentMethodRequest');

const ResponseSchema = z
  .looseObject({
    id: z.uuid(),
    campaign_id: z.uuid(),
    status: z.string(),
    amount_cents: z.number().int(),
    currency: z.string(),
    failure_code: z.string().nullable(),
  })
  .openapi({ description: 'The pledge, as GET /v1/pledges/{id} returns it.' });

interface CampaignRow {
  id: string;
  status: string;
  ends_at: Date;
}

const notUpdatable = (status: string) =>
  problems.conflict(
    'pledge_not_updatable',
    `The pledge is ${status}; its payment method can change only while the campaign is live or during the dropped-pledge window.`,
  );
const pledgeChanged = () => problems.conflict('pledge_changed', 'The pledge was changed by another request; reload it and try again.');
const declined = (pledgeId: string, code: string | null, message?: string | null) =>
  new Problem(402, 'payment_declined', 'Payment declined', message ?? 'The card was declined.', { pledge_id: pledgeId, decline_code: code });
const rejected = (err: PaymentRequestError) =>
  problems.unprocessable('payment_method_rejected', `The payment provider refused the payment method: ${err.message}`, { reason: err.code });
const unavailable = () => problems.unavailable('payment_unavailable', 'The payment provider could not be reached; retry the same request.');

export function registerPledgeRecoveryRoutes(api: Api, deps: AppDeps): void {
  const { db, logger } = deps;
  const payments = createPaymentService(deps);

  const load = async (id: string) => (await db('pledges').where({ id }).first()) as PledgeRow | undefined;

  /** Claims the next revision while the pledge is still in `status`; its number names the new payment. */
  async function reserveRevision(p: PledgeRow): Promise<number> {
    const [row] = (await db('pledges')
      .where({ id: p.id, status: p.status, revision: p.revision })
      .update({ revision: p.revision + 1, updated_at: db.fn.now() })
      .returning('revision')) as Array<{ revision: number }>;
    if (!row) throw pledgeChanged();
    return row.revision;
  }

  /** Provider calls: refusals become 4xx, anything else a 503 (the same request may be retried). */
  async function call(fn: () => Promise<PaymentRecord>): Promise<PaymentRecord> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof PaymentRequestError) throw rejected(err);
      if (err instanceof PaymentNotAllowedError) throw problems.conflict('payment_not_allowed', err.message);
      logger.error({ err }, 'payment provider call failed while replacing a card');
      throw unavailable();
    }
  }

  /** A card that could not be saved or held: 402, the pledge unchanged. */
  function refusal(pledgeId: string, r: PaymentRecord): Problem {
    if (r.status === 'requires_action') {
      return declined(pledgeId, 'authentication_required', 'This card needs authentication for every charge; use another card.');
    }
    return declined(pledgeId, r.declineCode ?? r.failureCode, r.failureMessage);
  }

  /** Voids a hold; the ledger gets a void line only when it holds the matching authorization line. */
  async function voidHold(p: PledgeRow, businessKey: string): Promise<void> {
    const record = await payments.cancelPayment({ businessKey });
    const authorized = await db('ledger_transactions').where({ business_key: businessKey, kind: 'authorization' }).first('amount_cents');
    if (authorized && record.providerPaymentId) {
      await recordLedgerEntry(db, {
        campaignId: p.campaign_id,
        pledgeId: p.id,
        kind: 'void',
        amountCents: Number(authorized.amount_cents),
        currency: p.currency.trim(),
        provider: record.provider,
        providerId: record.providerPaymentId,
        businessKey: `${businessKey}:void`,
      });
    }
  }

  /** Dropped-pledge window: save the new card, then have the window's workflow charge it now. */
  async function recover(principal: Principal, p: PledgeRow, paymentMethod: string) {
    const revision = await reserveRevision(p);
    const businessKey = `pledge:${p.id}:setup:${revision}`;
    const saved = await call(() => payments.savePaymentMethod({ businessKey, paymentMethod, customerRef: p.backer_id, email: principal.email }));
    if (saved.status !== 'succeeded') throw refusal(p.id, saved);

    const stored = await db('pledges')
      .where({ id: p.id, status: 'payment_failed', revision })
      .update({
        // From now on the pledge is paid from a saved card, whatever held it before.
        payment_mode: 'save_card',
        payment_key: businessKey,
        payment_method: paymentMethod,
        provider_customer_id: saved.providerCustomerId,
        provider_payment_method: saved.providerPaymentMethod,
        updated_at: db.fn.now(),
      });
    if (!stored) {
      const now = (await load(p.id))!;
      if (now.status === 'collected') return { status: 200, body: pledgeJson(now) };
      throw now.status === 'payment_failed' ? pledgeChanged() : notUpdatable(now.status);
    }

    let result: RetryPaymentResult;
    try {
      result = await deps.temporal.withDeadline(deps.config.TEMPORAL_UPDATE_TIMEOUT, (client) =>
        client.workflow.getHandle(droppedPledgeWorkflowId(p.id)).executeUpdate(retryPaymentUpdate),
      );
    } catch (err) {
      const now = (await load(p.id))!;
      if (now.status === 'collected') return { status: 200, body: pledgeJson(now) };
      // Rejected by the validator: the window is closing (final retry running) or over.
      if (err instanceof WorkflowUpdateFailedError) throw notUpdatable(now.status === 'payment_failed' ? 'past its payment window' : now.status);
      // The window is opened right after the failure is recorded; a request in between may retry shortly.
      if (err instanceof WorkflowNotFoundError) throw problems.unavailable('payment_window_unavailable', 'The payment window is not open yet; retry shortly.');
      throw err;
    }
    const now = (await load(p.id))!;
    if (result.status === 'collected') return { status: 200, body: pledgeJson(now) };
    throw declined(p.id, result.failure_code ?? null, now.failure_message ?? 'The new card was declined; the pledge is still in its payment window.');
  }

  /** Live campaign: swap the card behind an active pledge. */
  async function replace(principal: Principal, p: PledgeRow, paymentMethod: string) {
    if (p.payment_method === paymentMethod) return { status: 200, body: pledgeJson(p) };
    const revision = await reserveRevision(p);

    if (p.payment_mode === 'save_card') {
      const businessKey = `pledge:${p.id}:setup:${revision}`;
      const saved = await call(() => payments.savePaymentMethod({ businessKey, paymentMethod, customerRef: p.backer_id, email: principal.email }));
      if (saved.status !== 'succeeded') throw refusal(p.id, saved);
      const [row] = (await db('pledges')
        .where({ id: p.id, status: 'active', revision })
        .update({
          payment_key: businessKey,
          payment_method: paymentMethod,
          provider_customer_id: saved.providerCustomerId,
          provider_payment_method: saved.providerPaymentMethod,
          updated_at: db.fn.now(),
        })
        .returning('*')) as PledgeRow[];
      if (!row) throw pledgeChanged();
      return { status: 200, body: pledgeJson(row) };
    }

    // Authorized: the new hold first, so the pledge is never without one; then the old one goes.
    const businessKey = `pledge:${p.id}:authorize:${revision}`;
    const hold = await call(() =>
      payments.authorizePayment({
        businessKey,
        amountCents: p.amount_cents,
        currency: p.currency.trim(),
        paymentMethod,
        customerRef: p.backer_id,
        description: `Pledge ${p.id} revision ${revision}`,
        metadata: { pledge_id: p.id, campaign_id: p.campaign_id },
      }),
    );
    const discard = () =>
      payments.cancelPayment({ businessKey }).catch((err: unknown) => logger.warn({ err, businessKey }, 'could not void a discarded hold'));
    if (hold.status !== 'requires_capture') {
      await discard();
      throw refusal(p.id, hold);
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
      await discard();
      throw pledgeChanged();
    }
    if (p.payment_key) {
      // A failure here leaves an extra hold that expires on its own, never a missing one.
      await voidHold(p, p.payment_key).catch((err: unknown) =>
        logger.error({ err, pledgeId: p.id, businessKey: p.payment_key }, 'could not void the replaced hold'),
      );
    }
    return { status: 200, body: pledgeJson(row) };
  }

  api.route(
    {
      method: 'put',
      path: '/v1/pledges/{id}/payment-method',
      operationId: 'updatePledgePaymentMethod',
      summary: 'Replace the card behind a pledge (while live, or to rescue a failed charge during the dropped-pledge window)',
      tags: ['pledges'],
      auth: 'user',
      params: uuidParam('id'),
      body: Body,
      responses: {
        200: { description: 'Card replaced; in the dropped-pledge window the pledge is now collected', schema: ResponseSchema },
        402: { description: '`payment_declined` (with `decline_code`): the new card was refused; the pledge is unchanged (and stays in its window)' },
        404: { description: 'No such pledge of yours' },
        409: { description: '`pledge_not_updatable` (neither live nor in its payment window) or `pledge_changed` (a concurrent change)' },
        422: { description: '`payment_method_rejected`' },
        503: { description: '`payment_unavailable` or `payment_window_unavailable`: retry the same request' },
      },
    },
    async ({ params, body, principal }) => {
      const me = requirePrincipal(principal);
      const pledge = await load(params.id);
      // Another backer's pledge is indistinguishable from a missing one.
      if (!pledge || pledge.backer_id !== me.id) throw problems.notFound('pledge');
      const now = new Date();
      if (pledge.status === 'payment_failed' && pledge.drop_deadline && pledge.drop_deadline.getTime() > now.getTime()) {
        return recover(me, pledge, body.payment_method);
      }
      if (pledge.status === 'active') {
        const campaign = (await db('campaigns').where({ id: pledge.campaign_id }).first('id', 'status', 'ends_at')) as CampaignRow;
        if (campaign.status === 'live' && campaign.ends_at.getTime() > now.getTime()) return replace(me, pledge, body.payment_method);
      }
      throw notUpdatable(pledge.status);
    },
  );
}
