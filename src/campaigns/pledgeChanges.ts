import { requireVisibleTo } from '../accounts/authorization';
import { wouldDropBelowGoal } from '../domain/campaigns';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import { isInPlace, paymentOutcome, refusedRequest } from '../payments/outcomes';
import type { PaymentRecord } from '../payments/paymentRecords';
import { announceTotals, moveLiveTotals, type PledgedTotals } from './campaignTotals';
import { recordLedgerEntry } from './ledger';
import type { PledgeServiceDeps } from './pledgeCreation';
import { cardPaymentKey, createPledgePayments } from './pledgePayments';
import { pledgeRefusals } from './pledgeRefusals';
import type { PledgeRow } from './pledgeRow';
import { acceptsPledges, loadPledge, reserveRevision } from './pledgeStore';
import { pledgeJson, type PledgeJson } from './pledgeViews';
import { findCampaign, lockCampaignTotals, type CampaignRow } from './repository';
import { claimSlot, releaseSlot, requireTierFor } from './rewardSlots';

/**
 * A backer's changes to a pledge while its campaign is live: a new amount or reward tier, or cancelling it.
 * Every change is checked before the card is touched and again under the campaign row's lock, where the
 * totals move in the same transaction as the pledge.
 */

export interface EditPledgeInput {
  amountCents?: number;
  /** undefined keeps the tier, null removes it. */
  rewardTierId?: string | null;
}

export function createPledgeChanges(deps: PledgeServiceDeps) {
  const { db, config, logger } = deps;
  const payments = createPledgePayments(deps);

  /** Close to the deadline, an all-or-nothing campaign may not fall below its goal by a pledge's reduction. */
  const dropsBelowGoal = (c: CampaignRow, reductionCents: number, now: Date) =>
    wouldDropBelowGoal({
      fundingModel: c.funding_model,
      goalCents: c.goal_cents,
      pledgedCents: c.pledged_cents,
      reductionCents,
      endsAt: c.ends_at,
      now,
      lockWindowMs: config.PLEDGE_LOCK_WINDOW,
    });

  /** The pledge and its campaign, for the backer alone; anyone who may not see the pledge gets its 404. */
  async function loadForBacker(principal: Principal, pledgeId: string, forbidden: string): Promise<{ pledge: PledgeRow; campaign: CampaignRow }> {
    const pledge = await loadPledge(db, pledgeId);
    if (!pledge) throw refusals.notFound('pledge');
    const campaign = (await findCampaign(db, pledge.campaign_id))!;
    requireVisibleTo(principal, [pledge.backer_id, campaign.owner_id], 'pledge');
    if (principal.id !== pledge.backer_id) throw refusals.forbidden(forbidden);
    return { pledge, campaign };
  }

  /**
   * An authorized pledge's new amount needs a new hold before anything changes. An edit has no confirm step:
   * a hold that is not in place is discarded and the pledge stays as it was.
   */
  async function holdNewAmount(pledge: PledgeRow, revision: number, amountCents: number): Promise<PaymentRecord> {
    const businessKey = cardPaymentKey(pledge.id, 'authorize', revision);
    const hold = await payments
      .placeHold(pledge, {
        businessKey,
        amountCents,
        paymentMethod: pledge.provider_payment_method ?? pledge.payment_method,
        customerId: pledge.provider_customer_id ?? undefined,
        revision,
      })
      .catch(async (err: unknown) => {
        // Whether the provider acted is unknown: void under the same key (voided locally if it never answered).
        await payments.discardHold(pledge, businessKey);
        const refused = refusedRequest(err);
        if (refused) {
          throw refusals.unprocessable('payment_method_rejected', `The payment provider refused the change: ${refused.message}`, { pledge_id: pledge.id });
        }
        logger.error({ err, pledgeId: pledge.id, businessKey }, 'authorizing an edited amount failed');
        throw refusals.unavailable('payment_unavailable', 'The payment provider could not be reached; the pledge is unchanged, try again.');
      });
    if (!isInPlace(paymentOutcome(hold))) {
      await payments.discardHold(pledge, hold.businessKey);
      throw pledgeRefusals.cardRefused(pledge.id, hold, hold.failureMessage ?? 'The card did not accept the new amount; the pledge is unchanged.');
    }
    return hold;
  }

  return {
    async editPledge(principal: Principal, pledgeId: string, input: EditPledgeInput): Promise<PledgeJson> {
      const now = new Date();
      const { pledge, campaign } = await loadForBacker(principal, pledgeId, 'Only the backer may change this pledge.');
      if (!acceptsPledges(campaign, now)) throw pledgeRefusals.campaignNotLive();
      if (pledge.status !== 'active') throw refusals.conflict('pledge_not_editable', `The pledge is ${pledge.status}; only an active pledge can be changed.`);

      const newTierId = input.rewardTierId === undefined ? pledge.reward_tier_id : input.rewardTierId;
      const newAmount = input.amountCents ?? pledge.amount_cents;
      if (newTierId) await requireTierFor(db, campaign.id, newTierId, newAmount);
      const amountChanged = newAmount !== pledge.amount_cents;
      const tierChanged = newTierId !== pledge.reward_tier_id;
      if (!amountChanged && !tierChanged) return pledgeJson(pledge);

      const reduction = pledge.amount_cents - newAmount;
      // Checked before touching the card, and again under the campaign lock below.
      if (dropsBelowGoal(campaign, reduction, now)) throw pledgeRefusals.wouldDropBelowGoal();

      let revision = pledge.revision;
      let newHold: PaymentRecord | undefined;
      if (pledge.payment_mode === 'authorize' && amountChanged) {
        // Reserving the revision first gives every attempt its own business key and lets the commit below
        // notice a concurrent edit.
        revision = await reserveRevision(db, pledge);
        newHold = await holdNewAmount(pledge, revision, newAmount);
      }

      let totals: PledgedTotals | undefined;
      let updated: PledgeRow;
      try {
        updated = await db.transaction(async (trx) => {
          const locked = (await lockCampaignTotals(trx, campaign.id))!;
          if (!acceptsPledges(locked, new Date())) throw pledgeRefusals.campaignNotLive();
          if (dropsBelowGoal(locked, reduction, new Date())) throw pledgeRefusals.wouldDropBelowGoal();
          const current = (await trx('pledges').where({ id: pledge.id }).forUpdate().first()) as PledgeRow;
          if (current.status !== 'active' || current.revision !== revision || current.amount_cents !== pledge.amount_cents || current.reward_tier_id !== pledge.reward_tier_id) {
            throw pledgeRefusals.pledgeChanged();
          }
          if (tierChanged) {
            if (newTierId) await claimSlot(trx, campaign.id, newTierId);
            await releaseSlot(trx, pledge.reward_tier_id);
          }
          const [row] = (await trx('pledges')
            .where({ id: pledge.id })
            .update({
              amount_cents: newAmount,
              reward_tier_id: newTierId,
              revision: newHold ? revision : revision + 1,
              ...(newHold ? { payment_key: newHold.businessKey } : {}),
              updated_at: trx.fn.now(),
            })
            .returning('*')) as PledgeRow[];
          totals = await moveLiveTotals(trx, campaign.id, newAmount - pledge.amount_cents, 0);
          if (!totals) throw pledgeRefusals.campaignNotLive();
          if (newHold?.providerPaymentId) {
            await recordLedgerEntry(trx, {
              campaignId: campaign.id,
              pledgeId: pledge.id,
              kind: 'authorization',
              amountCents: newAmount,
              currency: pledge.currency.trim(),
              provider: newHold.provider,
              providerId: newHold.providerPaymentId,
              businessKey: newHold.businessKey,
            });
          }
          return row!;
        });
      } catch (err) {
        if (newHold) await payments.discardHold(pledge, newHold.businessKey);
        throw err;
      }

      if (newHold && pledge.payment_key) await payments.releaseReplacedHold(pledge, pledge.payment_key);
      if (amountChanged) await announceTotals(deps, campaign.id, { pledgedCents: newAmount - pledge.amount_cents, backerCount: 0 }, totals!);
      return pledgeJson(updated);
    },

    async cancelPledge(principal: Principal, pledgeId: string): Promise<PledgeJson> {
      const { pledge, campaign } = await loadForBacker(principal, pledgeId, 'Only the backer may cancel this pledge.');
      if (pledge.status === 'cancelled') {
        // A repeated DELETE finishes what a failed void left undone.
        if (pledge.payment_mode === 'authorize' && pledge.payment_key) await payments.voidHold(pledge, pledge.payment_key);
        return pledgeJson(pledge);
      }
      if (!acceptsPledges(campaign, new Date())) throw pledgeRefusals.campaignNotLive();
      if (pledge.status !== 'active' && pledge.status !== 'requires_action') {
        throw refusals.conflict('pledge_not_cancellable', `The pledge is ${pledge.status}; only an active pledge can be cancelled.`);
      }

      let totals: PledgedTotals | undefined;
      const cancelled = await db.transaction(async (trx) => {
        const locked = (await lockCampaignTotals(trx, campaign.id))!;
        const now = new Date();
        if (!acceptsPledges(locked, now)) throw pledgeRefusals.campaignNotLive();
        const current = (await trx('pledges').where({ id: pledge.id }).forUpdate().first()) as PledgeRow;
        if (current.status !== 'active' && current.status !== 'requires_action') throw pledgeRefusals.pledgeChanged();
        // Only an active pledge counts in the totals; one awaiting authentication never did.
        const counted = current.status === 'active';
        if (counted && dropsBelowGoal(locked, current.amount_cents, now)) throw pledgeRefusals.wouldDropBelowGoal();
        const [row] = (await trx('pledges')
          .where({ id: pledge.id })
          .update({ status: 'cancelled', cancelled_at: trx.fn.now(), updated_at: trx.fn.now(), next_action: null })
          .returning('*')) as PledgeRow[];
        await releaseSlot(trx, current.reward_tier_id);
        if (counted) {
          totals = await moveLiveTotals(trx, campaign.id, -current.amount_cents, -1);
          if (!totals) throw pledgeRefusals.campaignNotLive();
        }
        return row!;
      });

      // After commit, so a refused cancel never loses the hold; a failed void is finished by repeating the DELETE.
      if (cancelled.payment_mode === 'authorize' && cancelled.payment_key) await payments.voidHold(cancelled, cancelled.payment_key);
      if (totals) await announceTotals(deps, campaign.id, { pledgedCents: -cancelled.amount_cents, backerCount: -1 }, totals);
      return pledgeJson(cancelled);
    },
  };
}
