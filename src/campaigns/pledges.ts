import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Config } from '../config';
import type { Db } from '../infra/db';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import type { Principal } from '../domain/roles';
import { paymentModeFor, percentFunded, wouldDropBelowGoal, type FundingModel, type PledgeStatus } from '../domain/campaigns';
import { refusals } from '../domain/errors';
import { requireVisibleTo } from '../accounts/authorization';
import { PaymentRequestError, type PaymentGateway } from '../payments/gateway';
import { createPaymentService, PaymentNotAllowedError } from '../payments/paymentService';
import type { PaymentRecord } from '../payments/paymentRecords';
import { publishCampaignEvent } from './events';
import { applyTotalsDelta } from './liveTotals';
import type { PledgeRow } from './pledgeRow';
import { recordLedgerEntry } from './ledger';
import { enqueueCreatorWebhook, notify } from '../notifications/notify';

/**
 * The pledge service: create (claim a reward slot, then hold or save the card), confirm after 3-D Secure,
 * edit, cancel, and the lists. Postgres is the gate for everything that must never go wrong: a tier slot is a
 * conditional UPDATE, "one open pledge per backer" is a unique index, and a pledge only counts once the
 * campaign row, still live, has taken its amount in the same transaction. Redis counters and SSE events are
 * informed after commit and may lag; they are rebuilt from these rows.
 */

export interface PledgeDeps {
  config: Config;
  db: Db;
  redis: RedisClient;
  logger: Logger;
  payments: PaymentGateway;
}

export type { PledgeRow };


interface CampaignRow {
  id: string;
  owner_id: string;
  title: string;
  status: string;
  funding_model: FundingModel;
  goal_cents: number;
  currency: string;
  pledged_cents: number;
  backer_count: number;
  ends_at: Date;
}

interface TierRow {
  id: string;
  campaign_id: string;
  title: string;
  min_amount_cents: number;
  quantity: number | null;
  claimed: number;
}

interface Totals {
  pledged_cents: number;
  backer_count: number;
  goal_cents: number;
}

/** What any caller allowed to see a pledge gets: never the card token or provider ids. */
export function pledgeJson(row: PledgeRow) {
  return {
    id: row.id,
    campaign_id: row.campaign_id,
    backer_id: row.backer_id,
    reward_tier_id: row.reward_tier_id,
    amount_cents: row.amount_cents,
    currency: row.currency.trim(),
    status: row.status,
    payment_mode: row.payment_mode,
    failure_code: row.failure_code,
    drop_deadline: row.drop_deadline?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    collected_at: row.collected_at?.toISOString() ?? null,
    cancelled_at: row.cancelled_at?.toISOString() ?? null,
  };
}
export type PledgeJson = ReturnType<typeof pledgeJson>;

/** The business key of the payment that holds the card or the funds for a pledge's first revision. */
export function initialPaymentKey(pledgeId: string, mode: PledgeRow['payment_mode']): string {
  return mode === 'save_card' ? `pledge:${pledgeId}:setup` : `pledge:${pledgeId}:authorize`;
}

const OPEN_STATUSES: readonly PledgeStatus[] = ['pending', 'active', 'requires_action', 'collected', 'payment_failed'];
const AWAITING_PAYMENT: readonly PledgeStatus[] = ['pending', 'requires_action'];

const notLive = () => refusals.unprocessable('campaign_not_live', 'The campaign is not accepting pledges or changes.');
const soldOut = () => refusals.conflict('reward_sold_out', 'Every slot of this reward tier is taken.');
const invalidTier = () => refusals.unprocessable('invalid_reward_tier', 'This reward tier does not belong to the campaign.');
const belowMinimum = (min: number) =>
  refusals.unprocessable('below_reward_minimum', `This reward tier needs at least ${min} cents.`, { min_amount_cents: min });
const wouldDrop = () =>
  refusals.conflict('would_drop_below_goal', 'So close to the deadline, this change would take the campaign below its goal.');
const pledgeChanged = () => refusals.conflict('pledge_changed', 'The pledge was changed by another request; reload it and try again.');
const declined = (pledgeId: string, declineCode: string | null, message?: string | null) =>
  refusals.payment('payment_declined', 'Payment declined', message ?? 'The card was declined.', { pledge_id: pledgeId, decline_code: declineCode });

function isLive(c: Pick<CampaignRow, 'status' | 'ends_at'>, now: Date): boolean {
  return c.status === 'live' && c.ends_at.getTime() > now.getTime();
}

function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && e.constraint === constraint;
}

/** Thrown inside a transaction to roll it back when the campaign was decided meanwhile. */
class CampaignClosed extends Error {}

/** Keyset cursor over (created_at, id): the timestamp travels as Postgres text so no microsecond is lost. */
const CURSOR_TS = `to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
function encodeCursor(ts: string, id: string): string {
  return Buffer.from(JSON.stringify([ts, id])).toString('base64url');
}
function decodeCursor(cursor: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(v[0]) &&
      typeof v[1] === 'string' &&
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v[1])
    ) {
      return [v[0], v[1]];
    }
  } catch {
    // fall through to the 400
  }
  throw refusals.invalid([{ path: 'query.cursor', message: 'Not a cursor this list returned.' }], 'Invalid query.');
}

function page<T extends { cursor_ts: string; id: string }>(rows: T[], limit: number): { rows: T[]; next_cursor: string | null } {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return { rows: kept, next_cursor: more && last ? encodeCursor(last.cursor_ts, last.id) : null };
}

export interface CreatePledgeInput {
  amountCents: number;
  rewardTierId?: string;
  paymentMethod: string;
}

export interface EditPledgeInput {
  amountCents?: number;
  /** undefined keeps the tier, null removes it. */
  rewardTierId?: string | null;
}

export type PledgeResult = { status: 200 | 201 | 202; pledge: PledgeJson };

export function createPledgeService(deps: PledgeDeps) {
  const { db, redis, config, logger } = deps;
  const payments = createPaymentService(deps);

  async function loadCampaign(q: Knex | Knex.Transaction, id: string): Promise<CampaignRow | undefined> {
    return (await q('campaigns').where({ id }).first()) as CampaignRow | undefined;
  }

  async function loadPledge(id: string): Promise<PledgeRow | undefined> {
    return (await db('pledges').where({ id }).first()) as PledgeRow | undefined;
  }

  async function loadTier(campaignId: string, tierId: string): Promise<TierRow> {
    const tier = (await db('reward_tiers').where({ id: tierId, campaign_id: campaignId }).first()) as TierRow | undefined;
    if (!tier) throw invalidTier();
    return tier;
  }

  async function claimSlot(trx: Knex.Transaction, campaignId: string, tierId: string): Promise<void> {
    const claimed = await trx.raw<{ rows: unknown[] }>(
      `UPDATE reward_tiers SET claimed = claimed + 1
        WHERE id = ? AND campaign_id = ? AND (quantity IS NULL OR claimed < quantity) RETURNING id`,
      [tierId, campaignId],
    );
    if (claimed.rows.length === 0) throw soldOut();
  }

  async function releaseSlot(trx: Knex | Knex.Transaction, tierId: string | null): Promise<void> {
    if (tierId) await trx.raw('UPDATE reward_tiers SET claimed = claimed - 1 WHERE id = ? AND claimed > 0', [tierId]);
  }

  /** The one place a pledge's totals change: Postgres first, in the caller's transaction. */
  async function moveTotals(trx: Knex.Transaction, campaignId: string, pledgedDelta: number, backerDelta: number): Promise<Totals | undefined> {
    const { rows } = await trx.raw<{ rows: Totals[] }>(
      `UPDATE campaigns SET pledged_cents = pledged_cents + ?, backer_count = backer_count + ?, updated_at = now()
        WHERE id = ? AND status = 'live' AND ends_at > now()
        RETURNING pledged_cents, backer_count, goal_cents`,
      [pledgedDelta, backerDelta, campaignId],
    );
    return rows[0];
  }

  /** Redis counters and SSE are conveniences rebuilt from Postgres; their failure must not fail a committed pledge. */
  async function announce(campaignId: string, delta: { pledgedCents: number; backerCount: number }, totals: Totals): Promise<void> {
    try {
      await applyTotalsDelta(redis, campaignId, delta);
      await publishCampaignEvent(redis, campaignId, {
        type: 'progress',
        pledged_cents: totals.pledged_cents,
        backer_count: totals.backer_count,
        percent_funded: percentFunded(totals.pledged_cents, totals.goal_cents),
      });
    } catch (err) {
      logger.warn({ err, campaignId }, 'live totals or progress event not published; Postgres has the totals');
    }
  }

  /** Idempotent under the pledge's payment key: a retry or a confirm finds the first attempt's record. */
  async function runPayment(pledge: PledgeRow, email?: string): Promise<PaymentRecord> {
    const businessKey = pledge.payment_key ?? initialPaymentKey(pledge.id, pledge.payment_mode);
    if (pledge.payment_mode === 'save_card') {
      return payments.savePaymentMethod({ businessKey, paymentMethod: pledge.payment_method, customerRef: pledge.backer_id, email });
    }
    return payments.authorizePayment({
      businessKey,
      amountCents: pledge.amount_cents,
      currency: pledge.currency,
      paymentMethod: pledge.payment_method,
      customerRef: pledge.backer_id,
      description: `Pledge ${pledge.id}`,
      metadata: { pledge_id: pledge.id, campaign_id: pledge.campaign_id },
    });
  }

  type Outcome = 'ok' | 'action' | 'declined' | 'waiting';
  function outcomeOf(record: PaymentRecord): Outcome {
    const ok = record.kind === 'setup' ? 'succeeded' : 'requires_capture';
    if (record.status === ok) return 'ok';
    if (record.status === 'requires_action') return 'action';
    if (record.status === 'pending' || record.status === 'processing') return 'waiting';
    return 'declined';
  }

  /**
   * Voids a hold. The ledger gets a void line only when it holds the matching authorization line: holds that
   * never became part of a pledge (declined edits, a campaign decided mid-request) appear in neither.
   */
  async function voidHold(pledge: Pick<PledgeRow, 'id' | 'campaign_id' | 'currency'>, businessKey: string, amountCents: number): Promise<void> {
    const record = await payments.cancelPayment({ businessKey });
    const authorized = await db('ledger_transactions').where({ business_key: businessKey, kind: 'authorization' }).first('id');
    if (authorized && record.providerPaymentId) {
      await recordLedgerEntry(db, {
        campaignId: pledge.campaign_id,
        pledgeId: pledge.id,
        kind: 'void',
        amountCents,
        currency: pledge.currency.trim(),
        provider: record.provider,
        providerId: record.providerPaymentId,
        businessKey: `${businessKey}:void`,
      });
    }
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
    let totals: Totals | undefined;
    let activated: PledgeRow | undefined;
    // Read outside the transaction: owner and title are not what the totals depend on.
    const campaign = (await loadCampaign(db, pledge.campaign_id))!;
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
        const data = {
          campaign_id: pledge.campaign_id,
          pledge_id: pledge.id,
          amount_cents: pledge.amount_cents,
          currency: pledge.currency.trim(),
          reward_tier_id: pledge.reward_tier_id,
        };
        await notify(trx, {
          userId: campaign.owner_id,
          type: 'pledge_received',
          title: `New pledge on ${campaign.title}`,
          body: `A backer pledged ${pledge.amount_cents} ${pledge.currency.trim()} cents.`,
          data,
          dedupeKey: `pledge_received:${pledge.id}`,
        });
        await enqueueCreatorWebhook(trx, { campaignId: pledge.campaign_id, event: 'pledge.created', data, dedupeKey: `pledge.created:${pledge.id}` });
        // Last before COMMIT: every pledge of a hot campaign queues on this row, so hold its lock briefly.
        // No row means the campaign was decided meanwhile, and the whole transaction rolls back.
        totals = await moveTotals(trx, pledge.campaign_id, pledge.amount_cents, 1);
        if (!totals) throw new CampaignClosed();
      });
    } catch (err) {
      if (!(err instanceof CampaignClosed)) throw err;
      // Void before giving the slot back, so a failed void leaves the pledge awaiting payment and a retry
      // (same body, or confirm) comes back here to void again.
      if (record.kind === 'authorization') await voidHold(pledge, record.businessKey, pledge.amount_cents);
      await db.transaction(async (trx) => {
        const cancelled = await trx('pledges')
          .where({ id: pledge.id })
          .whereIn('status', AWAITING_PAYMENT)
          .update({ status: 'cancelled', cancelled_at: trx.fn.now(), updated_at: trx.fn.now(), failure_code: 'campaign_not_live' })
          .returning('id');
        if (cancelled.length > 0) await releaseSlot(trx, pledge.reward_tier_id);
      });
      throw notLive();
    }
    if (!activated) return (await loadPledge(pledge.id))!;
    await announce(pledge.campaign_id, { pledgedCents: pledge.amount_cents, backerCount: 1 }, totals!);
    return activated;
  }

  /** Turns the payment's answer into the pledge's state and the HTTP outcome shared by create and confirm. */
  async function settle(pledge: PledgeRow, record: PaymentRecord, success: 200 | 201): Promise<PledgeResult> {
    switch (outcomeOf(record)) {
      case 'ok':
        return { status: success, pledge: pledgeJson(await activate(pledge, record)) };
      case 'waiting':
        // The provider has not decided yet: the pledge keeps its slot and the backer confirms later.
        return { status: 202, pledge: pledgeJson((await loadPledge(pledge.id))!) };
      case 'action': {
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
      case 'declined': {
        await markDeclined(pledge, record.declineCode ?? record.failureCode ?? record.status, record.failureMessage);
        throw declined(pledge.id, record.declineCode ?? record.failureCode, record.failureMessage);
      }
    }
  }

  /** Runs the payment step; a refusal ends the pledge, an infrastructure error leaves it resumable. */
  async function pay(pledge: PledgeRow, email: string | undefined, success: 200 | 201): Promise<PledgeResult> {
    let record: PaymentRecord;
    try {
      record = await runPayment(pledge, email);
    } catch (err) {
      if (err instanceof PaymentRequestError || err instanceof PaymentNotAllowedError) {
        const code = err instanceof PaymentRequestError ? err.code : 'payment_not_allowed';
        await markDeclined(pledge, code, err.message);
        throw refusals.unprocessable('payment_method_rejected', `The payment provider refused the payment method: ${err.message}`, { pledge_id: pledge.id, reason: code });
      }
      // The provider may or may not have acted; the pledge stays pending under its deterministic key, and the
      // same request retried (or confirm) resumes it without a second hold.
      logger.error({ err, pledgeId: pledge.id }, 'payment step failed; pledge left pending for a retry');
      throw refusals.unavailable('payment_unavailable', 'The payment provider could not be reached; retry the same request.');
    }
    return settle(pledge, record, success);
  }

  return {
    async createPledge(principal: Principal, campaignId: string, input: CreatePledgeInput): Promise<PledgeResult> {
      const now = new Date();
      const campaign = await loadCampaign(db, campaignId);
      if (!campaign) throw refusals.notFound('campaign');
      if (campaign.owner_id === principal.id) throw refusals.unprocessable('cannot_back_own_campaign', 'Creators cannot back their own campaign.');
      if (!isLive(campaign, now)) throw notLive();
      if (input.rewardTierId) {
        const tier = await loadTier(campaignId, input.rewardTierId);
        if (input.amountCents < tier.min_amount_cents) throw belowMinimum(tier.min_amount_cents);
      }

      const open = (await db('pledges').where({ campaign_id: campaignId, backer_id: principal.id }).whereIn('status', OPEN_STATUSES).first()) as
        | PledgeRow
        | undefined;
      if (open) {
        // The same request again after a crash or a 503: carry on with the pledge it created.
        const sameRequest =
          open.status === 'pending' &&
          open.amount_cents === input.amountCents &&
          open.reward_tier_id === (input.rewardTierId ?? null) &&
          open.payment_method === input.paymentMethod;
        if (sameRequest) return pay(open, principal.email, 201);
        throw refusals.conflict('already_pledged', 'You already back this campaign; change that pledge instead.', { pledge_id: open.id });
      }

      const id = randomUUID();
      const mode = paymentModeFor(campaign.ends_at, now, config.HOLD_WINDOW);
      let pledge: PledgeRow;
      try {
        pledge = await db.transaction(async (trx) => {
          if (input.rewardTierId) await claimSlot(trx, campaignId, input.rewardTierId);
          const [row] = (await trx('pledges')
            .insert({
              id,
              campaign_id: campaignId,
              backer_id: principal.id,
              reward_tier_id: input.rewardTierId ?? null,
              amount_cents: input.amountCents,
              currency: campaign.currency,
              status: 'pending',
              payment_mode: mode,
              payment_method: input.paymentMethod,
              payment_key: initialPaymentKey(id, mode),
            })
            .returning('*')) as PledgeRow[];
          return row!;
        });
      } catch (err) {
        if (!isUniqueViolation(err, 'pledges_one_open_per_backer')) throw err;
        const existing = (await db('pledges').where({ campaign_id: campaignId, backer_id: principal.id }).whereIn('status', OPEN_STATUSES).first('id')) as
          | { id: string }
          | undefined;
        throw refusals.conflict('already_pledged', 'You already back this campaign; change that pledge instead.', { pledge_id: existing?.id ?? null });
      }
      return pay(pledge, principal.email, 201);
    },

    /** After 3-D Secure: asks the provider again under the same key and finishes like create. */
    async confirmPledge(principal: Principal, pledgeId: string): Promise<PledgeResult> {
      const pledge = await loadPledge(pledgeId);
      if (!pledge) throw refusals.notFound('pledge');
      requireVisibleTo(principal, pledge.backer_id, 'pledge');
      if (pledge.status === 'active' || pledge.status === 'collected') return { status: 200, pledge: pledgeJson(pledge) };
      if (!AWAITING_PAYMENT.includes(pledge.status)) {
        throw refusals.conflict('pledge_not_confirmable', `The pledge is ${pledge.status}; only a pledge awaiting payment can be confirmed.`);
      }
      return pay(pledge, principal.email, 200);
    },

    async getPledge(principal: Principal, pledgeId: string): Promise<PledgeJson> {
      const pledge = await loadPledge(pledgeId);
      if (!pledge) throw refusals.notFound('pledge');
      const campaign = (await loadCampaign(db, pledge.campaign_id))!;
      requireVisibleTo(principal, [pledge.backer_id, campaign.owner_id], 'pledge');
      return pledgeJson(pledge);
    },

    async editPledge(principal: Principal, pledgeId: string, input: EditPledgeInput): Promise<PledgeJson> {
      const now = new Date();
      const pledge = await loadPledge(pledgeId);
      if (!pledge) throw refusals.notFound('pledge');
      const campaign = (await loadCampaign(db, pledge.campaign_id))!;
      requireVisibleTo(principal, [pledge.backer_id, campaign.owner_id], 'pledge');
      if (principal.id !== pledge.backer_id) throw refusals.forbidden('Only the backer may change this pledge.');
      if (!isLive(campaign, now)) throw notLive();
      if (pledge.status !== 'active') throw refusals.conflict('pledge_not_editable', `The pledge is ${pledge.status}; only an active pledge can be changed.`);

      const newTierId = input.rewardTierId === undefined ? pledge.reward_tier_id : input.rewardTierId;
      const newAmount = input.amountCents ?? pledge.amount_cents;
      if (newTierId) {
        const tier = await loadTier(campaign.id, newTierId);
        if (newAmount < tier.min_amount_cents) throw belowMinimum(tier.min_amount_cents);
      }
      const amountChanged = newAmount !== pledge.amount_cents;
      const tierChanged = newTierId !== pledge.reward_tier_id;
      if (!amountChanged && !tierChanged) return pledgeJson(pledge);

      const rule = (c: CampaignRow, at: Date) =>
        wouldDropBelowGoal({
          fundingModel: c.funding_model,
          goalCents: c.goal_cents,
          pledgedCents: c.pledged_cents,
          reductionCents: pledge.amount_cents - newAmount,
          endsAt: c.ends_at,
          now: at,
          lockWindowMs: config.PLEDGE_LOCK_WINDOW,
        });
      // Checked before touching the card, and again under the campaign lock below.
      if (rule(campaign, now)) throw wouldDrop();

      let revision = pledge.revision;
      let newHold: PaymentRecord | undefined;
      if (pledge.payment_mode === 'authorize' && amountChanged) {
        // Reserving the revision first gives every attempt its own business key and lets the commit below
        // notice a concurrent edit.
        const [reserved] = (await db('pledges')
          .where({ id: pledge.id, status: 'active', revision })
          .update({ revision: revision + 1, updated_at: db.fn.now() })
          .returning('revision')) as Array<{ revision: number }>;
        if (!reserved) throw pledgeChanged();
        revision = reserved.revision;
        const businessKey = `pledge:${pledge.id}:authorize:${revision}`;
        newHold = await payments
          .authorizePayment({
            businessKey,
            amountCents: newAmount,
            currency: pledge.currency.trim(),
            paymentMethod: pledge.provider_payment_method ?? pledge.payment_method,
            customerId: pledge.provider_customer_id ?? undefined,
            customerRef: pledge.backer_id,
            description: `Pledge ${pledge.id} revision ${revision}`,
            metadata: { pledge_id: pledge.id, campaign_id: pledge.campaign_id },
          })
          .catch(async (err: unknown) => {
            // Whether the provider acted is unknown: void under the same key (voided locally if it never answered).
            await voidHold(pledge, businessKey, newAmount).catch(() => undefined);
            if (err instanceof PaymentRequestError || err instanceof PaymentNotAllowedError) {
              throw refusals.unprocessable('payment_method_rejected', `The payment provider refused the change: ${err.message}`, { pledge_id: pledge.id });
            }
            logger.error({ err, pledgeId: pledge.id, businessKey }, 'authorizing an edited amount failed');
            throw refusals.unavailable('payment_unavailable', 'The payment provider could not be reached; the pledge is unchanged, try again.');
          });
        if (outcomeOf(newHold) !== 'ok') {
          // An edit has no confirm step: a new hold that is not in place is discarded and the pledge stays as it was.
          await voidHold(pledge, newHold.businessKey, newAmount).catch((err: unknown) =>
            logger.warn({ err, businessKey: newHold!.businessKey }, 'could not void a discarded hold'),
          );
          const code = newHold.status === 'requires_action' ? 'authentication_required' : (newHold.declineCode ?? newHold.failureCode);
          throw declined(pledge.id, code, newHold.failureMessage ?? 'The card did not accept the new amount; the pledge is unchanged.');
        }
      }

      let totals: Totals | undefined;
      let updated: PledgeRow;
      try {
        updated = await db.transaction(async (trx) => {
          // NO KEY UPDATE: serializes totals changes without blocking pledge inserts' foreign-key checks.
          const locked = (await trx('campaigns').where({ id: campaign.id }).forNoKeyUpdate().first()) as CampaignRow;
          if (!isLive(locked, new Date())) throw notLive();
          if (rule(locked, new Date())) throw wouldDrop();
          const current = (await trx('pledges').where({ id: pledge.id }).forUpdate().first()) as PledgeRow;
          if (current.status !== 'active' || current.revision !== revision || current.amount_cents !== pledge.amount_cents || current.reward_tier_id !== pledge.reward_tier_id) {
            throw pledgeChanged();
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
          totals = await moveTotals(trx, campaign.id, newAmount - pledge.amount_cents, 0);
          if (!totals) throw notLive();
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
        if (newHold) {
          await voidHold(pledge, newHold.businessKey, newAmount).catch((e: unknown) =>
            logger.warn({ err: e, businessKey: newHold!.businessKey }, 'could not void a discarded hold'),
          );
        }
        throw err;
      }

      if (newHold && pledge.payment_key) {
        // The new hold is in place and recorded; the old one only has to go. A failure here leaves an extra
        // hold that expires on its own, never a missing one.
        await voidHold(pledge, pledge.payment_key, pledge.amount_cents).catch((err: unknown) =>
          logger.error({ err, pledgeId: pledge.id, businessKey: pledge.payment_key }, 'could not void the replaced hold'),
        );
      }
      if (amountChanged) await announce(campaign.id, { pledgedCents: newAmount - pledge.amount_cents, backerCount: 0 }, totals!);
      return pledgeJson(updated);
    },

    async cancelPledge(principal: Principal, pledgeId: string): Promise<PledgeJson> {
      const pledge = await loadPledge(pledgeId);
      if (!pledge) throw refusals.notFound('pledge');
      const campaign = (await loadCampaign(db, pledge.campaign_id))!;
      requireVisibleTo(principal, [pledge.backer_id, campaign.owner_id], 'pledge');
      if (principal.id !== pledge.backer_id) throw refusals.forbidden('Only the backer may cancel this pledge.');
      if (pledge.status === 'cancelled') {
        // A repeated DELETE finishes what a failed void left undone.
        if (pledge.payment_mode === 'authorize' && pledge.payment_key) await voidHold(pledge, pledge.payment_key, pledge.amount_cents);
        return pledgeJson(pledge);
      }
      if (!isLive(campaign, new Date())) throw notLive();
      if (pledge.status !== 'active' && pledge.status !== 'requires_action') {
        throw refusals.conflict('pledge_not_cancellable', `The pledge is ${pledge.status}; only an active pledge can be cancelled.`);
      }

      let totals: Totals | undefined;
      const cancelled = await db.transaction(async (trx) => {
        const locked = (await trx('campaigns').where({ id: campaign.id }).forNoKeyUpdate().first()) as CampaignRow;
        const now = new Date();
        if (!isLive(locked, now)) throw notLive();
        const current = (await trx('pledges').where({ id: pledge.id }).forUpdate().first()) as PledgeRow;
        if (current.status !== 'active' && current.status !== 'requires_action') throw pledgeChanged();
        const counted = current.status === 'active';
        if (
          counted &&
          wouldDropBelowGoal({
            fundingModel: locked.funding_model,
            goalCents: locked.goal_cents,
            pledgedCents: locked.pledged_cents,
            reductionCents: current.amount_cents,
            endsAt: locked.ends_at,
            now,
            lockWindowMs: config.PLEDGE_LOCK_WINDOW,
          })
        ) {
          throw wouldDrop();
        }
        const [row] = (await trx('pledges')
          .where({ id: pledge.id })
          .update({ status: 'cancelled', cancelled_at: trx.fn.now(), updated_at: trx.fn.now(), next_action: null })
          .returning('*')) as PledgeRow[];
        await releaseSlot(trx, current.reward_tier_id);
        if (counted) {
          totals = await moveTotals(trx, campaign.id, -current.amount_cents, -1);
          if (!totals) throw notLive();
        }
        return { row: row!, counted };
      });

      // After commit, so a refused cancel never loses the hold; a failed void is finished by repeating the DELETE.
      if (cancelled.row.payment_mode === 'authorize' && cancelled.row.payment_key) {
        await voidHold(cancelled.row, cancelled.row.payment_key, cancelled.row.amount_cents);
      }
      if (totals) await announce(campaign.id, { pledgedCents: -cancelled.row.amount_cents, backerCount: -1 }, totals);
      return pledgeJson(cancelled.row);
    },

    /** The owner's (or an operator's) view of who backed the campaign; authorization is the caller's job. */
    async listCampaignPledges(campaignId: string, q: { limit: number; cursor?: string; status?: PledgeStatus }) {
      let query = db('pledges as p')
        .join('users as u', 'u.id', 'p.backer_id')
        .leftJoin('reward_tiers as t', 't.id', 'p.reward_tier_id')
        .where('p.campaign_id', campaignId)
        .select('p.*', 'u.name as backer_name', 't.title as tier_title', db.raw(`${CURSOR_TS} AS cursor_ts`))
        .orderBy([{ column: 'p.created_at', order: 'desc' }, { column: 'p.id', order: 'desc' }])
        .limit(q.limit + 1);
      if (q.status) query = query.where('p.status', q.status);
      if (q.cursor) {
        const [ts, id] = decodeCursor(q.cursor);
        query = query.whereRaw('(p.created_at, p.id) < (?::timestamptz, ?::uuid)', [ts, id]);
      }
      const rows = (await query) as Array<PledgeRow & { backer_name: string; tier_title: string | null; cursor_ts: string }>;
      const { rows: kept, next_cursor } = page(rows, q.limit);
      return {
        data: kept.map((r) => ({
          id: r.id,
          backer: { id: r.backer_id, name: r.backer_name },
          amount_cents: r.amount_cents,
          currency: r.currency.trim(),
          reward_tier: r.reward_tier_id ? { id: r.reward_tier_id, title: r.tier_title ?? '' } : null,
          status: r.status,
          created_at: r.created_at.toISOString(),
        })),
        next_cursor,
      };
    },

    /** The caller's own pledges, newest first; declined attempts are noise there and left out. */
    async listMyPledges(principal: Principal, q: { limit: number; cursor?: string }) {
      let query = db('pledges as p')
        .join('campaigns as c', 'c.id', 'p.campaign_id')
        .where('p.backer_id', principal.id)
        .whereNot('p.status', 'declined')
        .select('p.*', 'c.title as campaign_title', 'c.status as campaign_status', 'c.ends_at as campaign_ends_at', db.raw(`${CURSOR_TS} AS cursor_ts`))
        .orderBy([{ column: 'p.created_at', order: 'desc' }, { column: 'p.id', order: 'desc' }])
        .limit(q.limit + 1);
      if (q.cursor) {
        const [ts, id] = decodeCursor(q.cursor);
        query = query.whereRaw('(p.created_at, p.id) < (?::timestamptz, ?::uuid)', [ts, id]);
      }
      const rows = (await query) as Array<PledgeRow & { campaign_title: string; campaign_status: string; campaign_ends_at: Date; cursor_ts: string }>;
      const { rows: kept, next_cursor } = page(rows, q.limit);
      return {
        data: kept.map((r) => ({
          ...pledgeJson(r),
          campaign: { id: r.campaign_id, title: r.campaign_title, status: r.campaign_status, ends_at: r.campaign_ends_at.toISOString() },
        })),
        next_cursor,
      };
    },

    async campaignOwner(campaignId: string): Promise<string | undefined> {
      const row = (await db('campaigns').where({ id: campaignId }).first('owner_id')) as { owner_id: string } | undefined;
      return row?.owner_id;
    },
  };
}

export type PledgeService = ReturnType<typeof createPledgeService>;
