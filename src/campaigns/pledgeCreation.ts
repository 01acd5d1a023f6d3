import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import { requireVisibleTo } from '../accounts/authorization';
import { SLOT_HOLDING_PLEDGE_STATUSES, type PledgeStatus } from '../domain/campaigns';
import { canTransition, paymentStatusFrom } from '../domain/payments';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import { enqueueCreatorWebhook, notify } from '../notifications/notify';
import type { PaymentGateway } from '../payments/gateway';
import { declineReason, isInPlace, paymentOutcome, refusedRequest } from '../payments/outcomes';
import { stateFromIntent, stateFromSetup, type PaymentRecord, type ProviderState } from '../payments/paymentRecords';
import { authorizeCall, saveCall } from '../payments/paymentService';
import { createTotalsAnnouncer, moveLiveTotals, type PledgedTotals } from './campaignTotals';
import { recordLedgerEntry } from './ledger';
import { cardPaymentKey, createPledgePayments, holdRequest, saveCardRequest } from './pledgePayments';
import { pledgeRefusals } from './pledgeRefusals';
import type { PledgeRow } from './pledgeRow';
import { loadPledge } from './pledgeStore';
import { pledgeJson, type PledgeJson } from './pledgeViews';
import { findCampaign } from './repository';
import { releaseSlot } from './rewardSlots';
import { createGroupCommit } from '../infra/keyedGroupCommit';
import { activateNewPledges, openPledges, type Activation, type ActivationInput, type OpenedPledge, type OpenPledgeInput } from './pledgeWrites';

/**
 * A new pledge: claim a reward slot, then save the card or hold the funds; and confirm, which finishes a
 * pledge after 3-D Secure. Postgres is the gate for everything that must never go wrong: a tier slot is a
 * conditional UPDATE, "one open pledge per backer" is a unique index, and a pledge only counts once the
 * campaign row, still live, has taken its amount in the same transaction.
 */

export interface PledgeServiceDeps {
  config: Config;
  db: Db;
  redis: RedisClient;
  logger: Logger;
  payments: PaymentGateway;
}

export interface CreatePledgeInput {
  amountCents: number;
  rewardTierId?: string;
  paymentMethod: string;
}

export type PledgeResult = { status: 200 | 201 | 202; pledge: PledgeJson };

/** A backer has at most one of these per campaign (the pledges_one_open_per_backer index). */
const OPEN_STATUSES: readonly PledgeStatus[] = SLOT_HOLDING_PLEDGE_STATUSES;
const AWAITING_PAYMENT: readonly PledgeStatus[] = ['pending', 'requires_action'];

function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && e.constraint === constraint;
}

/** What the owner is told about a new pledge: in-app (with its push) and by webhook. */
function pledgeNotice(pledge: PledgeRow, campaign: { title: string }): ActivationInput['notice'] {
  return {
    title: `New pledge on ${campaign.title}`,
    body: `A backer pledged ${pledge.amount_cents} ${pledge.currency.trim()} cents.`,
    data: {
      campaign_id: pledge.campaign_id,
      pledge_id: pledge.id,
      amount_cents: pledge.amount_cents,
      currency: pledge.currency.trim(),
      reward_tier_id: pledge.reward_tier_id,
    },
    dedupeKey: `pledge_received:${pledge.id}`,
    webhookEvent: 'pledge.created',
    webhookDedupeKey: `pledge.created:${pledge.id}`,
  };
}

type Opened = Awaited<ReturnType<typeof openPledges>>[number];

/** Thrown inside a transaction to roll it back when the campaign was decided meanwhile. */
class CampaignClosed extends Error {}

export function createPledgeCreation(deps: PledgeServiceDeps) {
  const { db, config, logger } = deps;
  const payments = createPledgePayments(deps);
  const announceTotals = createTotalsAnnouncer(deps);
  // A hot campaign's new pledges activate together: one statement, one lock of its row, per batch.
  const activateTogether = createGroupCommit<ActivationInput, Activation>((_campaignId, batch) => activateNewPledges(db, batch));
  // And are opened together (slots, pledge rows, payments rows); a backer twice in one batch fails the whole
  // statement on the unique index, so that batch goes again one by one, each request with its own answer.
  const openTogether = createGroupCommit<OpenPledgeInput, { opened: Opened } | { failed: unknown }>(async (_campaignId, batch) => {
    try {
      return (await openPledges(db, batch)).map((opened) => ({ opened }));
    } catch (err) {
      if (batch.length === 1 || !isUniqueViolation(err, 'pledges_one_open_per_backer')) throw err;
      return Promise.all(batch.map((input) => openPledges(db, [input]).then(([opened]) => ({ opened: opened! }), (failed: unknown) => ({ failed }))));
    }
  });

  async function openOne(input: OpenPledgeInput): Promise<OpenedPledge> {
    const outcome = await openTogether(input.campaignId, input);
    if ('failed' in outcome) throw outcome.failed;
    // Its tier could not take the whole batch: alone, it learns exactly whether a slot is left.
    return outcome.opened.retryAlone ? (await openPledges(db, [input]))[0]! : outcome.opened;
  }

  /** Idempotent under the pledge's payment key: a retry or a confirm finds the first attempt's record. */
  function putCardInPlace(pledge: PledgeRow, email?: string): Promise<PaymentRecord> {
    const businessKey = pledge.payment_key ?? cardPaymentKey(pledge.id, pledge.payment_mode);
    if (pledge.payment_mode === 'save_card') return payments.saveCard(pledge, { businessKey, paymentMethod: pledge.payment_method, email });
    return payments.placeHold(pledge, { businessKey, amountCents: pledge.amount_cents, paymentMethod: pledge.payment_method });
  }

  async function markDeclined(pledge: PledgeRow, failureCode: string | null, failureMessage: string | null): Promise<void> {
    await db.transaction(async (trx) => {
      const updated = await trx('pledges')
        .where({ id: pledge.id })
        .whereIn('status', AWAITING_PAYMENT)
        .update({ status: 'declined', failure_code: failureCode, failure_message: failureMessage, next_action: null, updated_at: trx.fn.now() })
        .returning('id');
      // Only the request that ended the pledge frees its slot, however many race to decline it.
      if (updated.length > 0) await releaseSlot(trx, pledge.reward_tier_id);
    });
  }

  /**
   * The card is saved or the funds held: the pledge becomes active and counts, in one transaction with the
   * owner's notification and webhook. A campaign decided meanwhile takes nothing: the hold is voided.
   */
  async function activate(pledge: PledgeRow, record: PaymentRecord): Promise<PledgeRow> {
    let totals: PledgedTotals | undefined;
    let activated: PledgeRow | undefined;
    // Read outside the transaction: owner and title are not what the totals depend on.
    const campaign = (await findCampaign(db, pledge.campaign_id))!;
    try {
      await db.transaction(async (trx) => {
        [activated] = (await trx('pledges')
          .where({ id: pledge.id })
          .whereIn('status', AWAITING_PAYMENT)
          .update({
            status: 'active',
            payment_key: record.businessKey,
            provider_customer_id: record.providerCustomerId,
            provider_payment_method: record.providerPaymentMethod,
            next_action: null,
            failure_code: null,
            failure_message: null,
            updated_at: trx.fn.now(),
          })
          .returning('*')) as PledgeRow[];
        if (!activated) return; // a concurrent confirm or retry activated it first
        if (record.kind === 'authorization' && record.providerPaymentId) {
          await recordLedgerEntry(trx, {
            campaignId: pledge.campaign_id,
            pledgeId: pledge.id,
            kind: 'authorization',
            amountCents: pledge.amount_cents,
            currency: pledge.currency.trim(),
            provider: record.provider,
            providerId: record.providerPaymentId,
            businessKey: record.businessKey,
          });
        }
        const notice = pledgeNotice(pledge, campaign);
        await notify(trx, { userId: campaign.owner_id, type: 'pledge_received', title: notice.title, body: notice.body, data: notice.data, dedupeKey: notice.dedupeKey });
        await enqueueCreatorWebhook(trx, { campaignId: pledge.campaign_id, event: notice.webhookEvent, data: notice.data, dedupeKey: notice.webhookDedupeKey });
        // Last before COMMIT; no row means the campaign was decided meanwhile, and the whole transaction rolls back.
        totals = await moveLiveTotals(trx, pledge.campaign_id, pledge.amount_cents, 1);
        if (!totals) throw new CampaignClosed();
      });
    } catch (err) {
      if (!(err instanceof CampaignClosed)) throw err;
      // Void before giving the slot back, so a failed void leaves the pledge awaiting payment and a retry
      // (same body, or confirm) comes back here to void again.
      if (record.kind === 'authorization') await payments.voidHold(pledge, record.businessKey);
      await db.transaction(async (trx) => {
        const cancelled = await trx('pledges')
          .where({ id: pledge.id })
          .whereIn('status', AWAITING_PAYMENT)
          .update({ status: 'cancelled', cancelled_at: trx.fn.now(), updated_at: trx.fn.now(), failure_code: 'campaign_not_live' })
          .returning('id');
        if (cancelled.length > 0) await releaseSlot(trx, pledge.reward_tier_id);
      });
      throw pledgeRefusals.campaignNotLive();
    }
    if (!activated) return (await loadPledge(db, pledge.id))!;
    await announceTotals(pledge.campaign_id, { pledgedCents: pledge.amount_cents, backerCount: 1 }, totals!);
    return activated;
  }

  /** Turns the payment's answer into the pledge's state and the answer shared by create and confirm. */
  async function settle(pledge: PledgeRow, record: PaymentRecord, success: 200 | 201): Promise<PledgeResult> {
    const outcome = paymentOutcome(record);
    if (isInPlace(outcome)) return { status: success, pledge: pledgeJson(await activate(pledge, record)) };
    if (outcome === 'pending') {
      // The provider has not decided yet: the pledge keeps its slot and the backer confirms later.
      return { status: 202, pledge: pledgeJson((await loadPledge(db, pledge.id))!) };
    }
    if (outcome === 'requires_action') {
      await db('pledges')
        .where({ id: pledge.id })
        .whereIn('status', AWAITING_PAYMENT)
        .update({ status: 'requires_action', payment_key: record.businessKey, next_action: record.nextAction ? JSON.stringify(record.nextAction) : null, updated_at: db.fn.now() });
      throw refusals.payment('requires_action', 'Authentication required', 'The card needs the backer to authenticate (3-D Secure); finish it with the client secret, then confirm the pledge.', {
        pledge_id: pledge.id,
        next_action: record.nextAction
          ? { type: record.nextAction.type, client_secret: record.nextAction.client_secret, ...(record.nextAction.redirect_url ? { redirect_url: record.nextAction.redirect_url } : {}) }
          : null,
      });
    }
    await markDeclined(pledge, declineReason(record) ?? record.status, record.failureMessage);
    throw pledgeRefusals.paymentDeclined(pledge.id, declineReason(record), record.failureMessage);
  }

  /** Runs a payment call; a refusal ends the pledge, an infrastructure error leaves it resumable. */
  async function paymentStep<T>(pledge: PledgeRow, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const refused = refusedRequest(err);
      if (refused) {
        await markDeclined(pledge, refused.code, refused.message);
        throw refusals.unprocessable('payment_method_rejected', `The payment provider refused the payment method: ${refused.message}`, {
          pledge_id: pledge.id,
          reason: refused.code,
        });
      }
      // The provider may or may not have acted; the pledge stays pending under its deterministic key, and the
      // same request retried (or confirm) resumes it without a second hold.
      logger.error({ err, pledgeId: pledge.id }, 'payment step failed; pledge left pending for a retry');
      throw refusals.unavailable('payment_unavailable', 'The payment provider could not be reached; retry the same request.');
    }
  }

  async function pay(pledge: PledgeRow, email: string | undefined, success: 200 | 201): Promise<PledgeResult> {
    return settle(pledge, await paymentStep(pledge, () => putCardInPlace(pledge, email)), success);
  }

  /** The provider's answer for a new pledge whose payments row openPledge wrote: the same request the payment service would send. */
  async function askProvider(pledge: PledgeRow, email: string | undefined): Promise<ProviderState> {
    const businessKey = pledge.payment_key!;
    if (pledge.payment_mode === 'save_card') {
      return stateFromSetup(await deps.payments.savePaymentMethod(saveCall(saveCardRequest(pledge, { businessKey, paymentMethod: pledge.payment_method, email }))));
    }
    return stateFromIntent(await deps.payments.authorize(authorizeCall(holdRequest(pledge, { businessKey, amountCents: pledge.amount_cents, paymentMethod: pledge.payment_method }))));
  }

  /**
   * A new pledge's payment and activation: the provider call, then one statement (activateNewPledge) when the
   * card is in place. Any other answer, or a row that moved meanwhile, goes the step-by-step way (pay), which
   * finds the payments row, gets the provider's stored answer again under the same key and settles as always.
   */
  async function payNew(pledge: PledgeRow, campaign: { owner_id: string; title: string }, email: string | undefined): Promise<PledgeResult> {
    const state = await paymentStep(pledge, () => askProvider(pledge, email));
    const kind = pledge.payment_mode === 'save_card' ? 'setup' : 'authorization';
    const status = paymentStatusFrom(state.providerStatus, state);
    if (isInPlace(paymentOutcome({ kind, status })) && canTransition('pending', status)) {
      const done = await activateTogether(pledge.campaign_id, {
        pledge,
        campaign,
        payment: { kind, status, state, provider: deps.payments.provider, eventType: kind === 'setup' ? 'setup' : 'authorize' },
        notice: pledgeNotice(pledge, campaign),
      });
      if (done.kind === 'activated') {
        await announceTotals(pledge.campaign_id, { pledgedCents: pledge.amount_cents, backerCount: 1 }, done.totals);
        return { status: 201, pledge: pledgeJson(done.pledge) };
      }
    }
    return pay(pledge, email, 201);
  }

  async function findOpenPledge(campaignId: string, backerId: string): Promise<PledgeRow | undefined> {
    return (await db('pledges').where({ campaign_id: campaignId, backer_id: backerId }).whereIn('status', OPEN_STATUSES).first()) as PledgeRow | undefined;
  }

  return {
    async createPledge(principal: Principal, campaignId: string, input: CreatePledgeInput): Promise<PledgeResult> {
      const now = new Date();
      const id = randomUUID();
      let opened: OpenedPledge;
      try {
        opened = await openOne({
          id,
          campaignId,
          backerId: principal.id,
          tierId: input.rewardTierId ?? null,
          amountCents: input.amountCents,
          paymentMethod: input.paymentMethod,
          now,
          holdUntil: new Date(now.getTime() + config.HOLD_WINDOW),
          keys: { authorize: cardPaymentKey(id, 'authorize'), save_card: cardPaymentKey(id, 'save_card') },
          provider: deps.payments.provider,
        });
      } catch (err) {
        if (!isUniqueViolation(err, 'pledges_one_open_per_backer')) throw err;
        throw pledgeRefusals.alreadyPledged((await findOpenPledge(campaignId, principal.id))?.id ?? null);
      }
      // The statement wrote nothing unless every rule below passed; they are told apart in the order they apply.
      const { campaign, tier, open, pledge } = opened;
      if (!campaign) throw refusals.notFound('campaign');
      if (campaign.owner_id === principal.id) throw refusals.unprocessable('cannot_back_own_campaign', 'Creators cannot back their own campaign.');
      if (!campaign.live) throw pledgeRefusals.campaignNotLive();
      if (input.rewardTierId) {
        if (!tier) throw pledgeRefusals.invalidRewardTier();
        if (input.amountCents < tier.min_amount_cents) throw pledgeRefusals.belowRewardMinimum(tier.min_amount_cents);
      }
      if (open) {
        // The same request again after a crash or a 503: carry on with the pledge it created.
        const sameRequest =
          open.status === 'pending' &&
          open.amount_cents === input.amountCents &&
          open.reward_tier_id === (input.rewardTierId ?? null) &&
          open.payment_method === input.paymentMethod;
        if (sameRequest) return pay((await loadPledge(db, open.id))!, principal.email, 201);
        throw pledgeRefusals.alreadyPledged(open.id);
      }
      if (!pledge) throw pledgeRefusals.rewardSoldOut();
      return payNew(pledge, campaign, principal.email);
    },

    /** After 3-D Secure: asks the provider again under the same key and finishes like create. */
    async confirmPledge(principal: Principal, pledgeId: string): Promise<PledgeResult> {
      const pledge = await loadPledge(db, pledgeId);
      if (!pledge) throw refusals.notFound('pledge');
      requireVisibleTo(principal, pledge.backer_id, 'pledge');
      if (pledge.status === 'active' || pledge.status === 'collected') return { status: 200, pledge: pledgeJson(pledge) };
      if (!AWAITING_PAYMENT.includes(pledge.status)) {
        throw refusals.conflict('pledge_not_confirmable', `The pledge is ${pledge.status}; only a pledge awaiting payment can be confirmed.`);
      }
      return pay(pledge, principal.email, 200);
    },
  };
}
