import type { Knex } from 'knex';
import { SLOT_HOLDING_PLEDGE_STATUSES } from '../domain/campaigns';
import { outboxKeyForWebhook, PUSH_OUTBOX_INSERT } from '../notifications/notify';
import type { PaymentKind, PaymentStatus } from '../domain/payments';
import type { ProviderState } from '../payments/paymentRecords';
import type { PledgedTotals } from './campaignTotals';
import type { PledgeRow } from './pledgeRow';

/**
 * A new pledge's writes as two statements, one on each side of the provider call (bench:pledges, issue 10):
 * every request of a hot campaign pays per statement, so each side is one CTE that reads what it needs once and
 * writes everything that must change together. Rarer paths (a retry, a decline, 3-D Secure, a campaign
 * decided meanwhile) keep the step-by-step code in pledgeCreation.ts, which these statements leave rows for.
 */

type Conn = Knex | Knex.Transaction;

const OPEN_STATUSES_SQL = SLOT_HOLDING_PLEDGE_STATUSES.map((s) => `'${s}'`).join(', ');

export interface OpenPledgeInput {
  id: string;
  campaignId: string;
  backerId: string;
  tierId: string | null;
  amountCents: number;
  paymentMethod: string;
  /** The request's clock: the campaign must be live and before its deadline at this time. */
  now: Date;
  /** now + HOLD_WINDOW: a deadline after it saves the card, else the funds are held now (paymentModeFor). */
  holdUntil: Date;
  /** The payment's business key for each mode (cardPaymentKey). */
  keys: { authorize: string; save_card: string };
  provider: string;
}

export interface OpenedPledge {
  /** Undefined: no such campaign. */
  campaign?: { owner_id: string; title: string; live: boolean };
  /** Undefined when no tier was asked for or the campaign has no such tier. */
  tier?: { min_amount_cents: number };
  /** The backer's open pledge on this campaign, when one exists (nothing was written then). */
  open?: Pick<PledgeRow, 'id' | 'status' | 'amount_cents' | 'reward_tier_id' | 'payment_method'>;
  /** Inserted pending, with its slot claimed and its payments row (pending) written. */
  pledge?: PledgeRow;
}

/**
 * One statement for a batch of new pledges of one campaign (one request, or those of a hot campaign
 * group-committed together): reads the campaign, the tiers and the backers' open pledges once; for the
 * requests that pass every rule, claims their tier slots (one conditional UPDATE per tier, never past its
 * quantity), inserts the pending pledges and their pending payments rows with each row's `created` event. A
 * rule that fails writes nothing for that request; the caller tells which from the reads. A tier that cannot
 * take all of a batch's requests takes none of them (`retryAlone`: the caller retries them one by one, which
 * decides exactly who gets the last slots). The unique index on open pledges refuses a concurrent twin (23505
 * fails the whole statement; the caller retries one by one then, too).
 */
export async function openPledges(db: Conn, inputs: readonly OpenPledgeInput[]): Promise<Array<OpenedPledge & { retryAlone?: boolean }>> {
  const column = <T>(pick: (input: OpenPledgeInput) => T): T[] => inputs.map(pick);
  const { rows } = await db.raw<{ rows: Record<string, unknown>[] }>(
    `WITH b AS (
       SELECT * FROM unnest(
         CAST(:ids AS uuid[]), CAST(:backerIds AS uuid[]), CAST(:tierIds AS uuid[]), CAST(:amounts AS bigint[]), CAST(:methods AS text[]),
         CAST(:nows AS timestamptz[]), CAST(:holdUntils AS timestamptz[]), CAST(:authorizeKeys AS text[]), CAST(:saveKeys AS text[])
       ) AS b(id, backer_id, tier_id, amount, payment_method, now, hold_until, authorize_key, save_key)
     ), c AS (
       SELECT id, owner_id, title, currency, status, ends_at FROM campaigns WHERE id = :campaignId
     ), t AS (
       SELECT id, min_amount_cents FROM reward_tiers WHERE campaign_id = :campaignId AND id IN (SELECT tier_id FROM b)
     ), o AS (
       -- One index lookup per backer (LATERAL): a join over the campaign's open pledges grows with the campaign.
       SELECT bb.backer_id, x.id, x.status, x.amount_cents, x.reward_tier_id, x.payment_method
         FROM (SELECT DISTINCT backer_id FROM b) bb
         CROSS JOIN LATERAL (
           SELECT id, status, amount_cents, reward_tier_id, payment_method FROM pledges
            WHERE campaign_id = :campaignId AND backer_id = bb.backer_id AND status IN (${OPEN_STATUSES_SQL})
            LIMIT 1
         ) x
     ), ok AS (
       SELECT b.*, CASE WHEN c.ends_at > b.hold_until THEN 'save_card' ELSE 'authorize' END AS mode
         FROM b JOIN c ON c.status = 'live' AND c.ends_at > b.now AND c.owner_id <> b.backer_id
         LEFT JOIN t ON t.id = b.tier_id
        WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.backer_id = b.backer_id)
          AND (b.tier_id IS NULL OR t.min_amount_cents <= b.amount)
     ), want AS (
       SELECT tier_id, count(*) AS n FROM ok WHERE tier_id IS NOT NULL GROUP BY tier_id
     ), slot AS (
       UPDATE reward_tiers r SET claimed = r.claimed + want.n
         FROM want
        WHERE r.id = want.tier_id AND r.campaign_id = :campaignId AND (r.quantity IS NULL OR r.claimed + want.n <= r.quantity)
       RETURNING r.id
     ), p AS (
       INSERT INTO pledges (id, campaign_id, backer_id, reward_tier_id, amount_cents, currency, status, payment_mode, payment_method, payment_key)
       SELECT ok.id, c.id, ok.backer_id, ok.tier_id, ok.amount, c.currency, 'pending', ok.mode, ok.payment_method,
              CASE ok.mode WHEN 'authorize' THEN ok.authorize_key ELSE ok.save_key END
         FROM ok CROSS JOIN c
        WHERE ok.tier_id IS NULL OR ok.tier_id IN (SELECT id FROM slot)
       RETURNING *
     ), pay AS (
       INSERT INTO payments (business_key, provider, kind, amount_cents, currency, status, payment_method, customer_ref)
       SELECT p.payment_key, CAST(:provider AS text),
              CASE p.payment_mode WHEN 'authorize' THEN 'authorization' ELSE 'setup' END,
              CASE p.payment_mode WHEN 'authorize' THEN p.amount_cents ELSE 0 END,
              CASE p.payment_mode WHEN 'authorize' THEN lower(p.currency) END,
              'pending', p.payment_method, p.backer_id::text
         FROM p
       RETURNING id, kind
     ), ev AS (
       INSERT INTO payment_events (payment_id, type, from_status, to_status, data)
       SELECT id, 'created', NULL, 'pending', jsonb_build_object('kind', kind) FROM pay
     )
     SELECT b.id AS b_id, (ok.id IS NOT NULL) AS b_passed, p.*,
            c.owner_id AS c_owner_id, c.title AS c_title, (c.status = 'live' AND c.ends_at > b.now) AS c_live,
            t.min_amount_cents AS t_min_amount_cents,
            o.id AS o_id, o.status AS o_status, o.amount_cents AS o_amount_cents, o.reward_tier_id AS o_reward_tier_id,
            o.payment_method AS o_payment_method
       FROM b LEFT JOIN c ON true LEFT JOIN t ON t.id = b.tier_id LEFT JOIN o ON o.backer_id = b.backer_id
       LEFT JOIN ok ON ok.id = b.id LEFT JOIN p ON p.id = b.id`,
    {
      campaignId: inputs[0]!.campaignId,
      provider: inputs[0]!.provider,
      ids: column((i) => i.id),
      backerIds: column((i) => i.backerId),
      tierIds: column((i) => i.tierId),
      amounts: column((i) => i.amountCents),
      methods: column((i) => i.paymentMethod),
      nows: column((i) => i.now.toISOString()),
      holdUntils: column((i) => i.holdUntil.toISOString()),
      authorizeKeys: column((i) => i.keys.authorize),
      saveKeys: column((i) => i.keys.save_card),
    },
  );
  const byId = new Map(rows.map((r) => [r.b_id as string, r]));
  return inputs.map((input) => {
    const {
      b_id: _bId,
      b_passed,
      c_owner_id,
      c_title,
      c_live,
      t_min_amount_cents,
      o_id,
      o_status,
      o_amount_cents,
      o_reward_tier_id,
      o_payment_method,
      ...pledge
    } = byId.get(input.id)!;
    return {
      campaign: c_owner_id == null ? undefined : { owner_id: c_owner_id as string, title: c_title as string, live: c_live as boolean },
      tier: t_min_amount_cents == null ? undefined : { min_amount_cents: t_min_amount_cents as number },
      open:
        o_id == null
          ? undefined
          : {
              id: o_id as string,
              status: o_status as PledgeRow['status'],
              amount_cents: o_amount_cents as number,
              reward_tier_id: o_reward_tier_id as string | null,
              payment_method: o_payment_method as string,
            },
      pledge: pledge.id == null ? undefined : (pledge as unknown as PledgeRow),
      // Passed every rule, but its tier could not take the whole batch: only a batch of one is sold out.
      ...(b_passed && pledge.id == null && inputs.length > 1 ? { retryAlone: true } : {}),
    };
  });
}

export interface ActivationInput {
  pledge: PledgeRow;
  campaign: { owner_id: string; title: string };
  /** What the provider answered, already read as a status the payments state machine allows from pending. */
  payment: { kind: PaymentKind; status: PaymentStatus; state: ProviderState; provider: string; eventType: 'authorize' | 'setup' };
  /** The owner's notification and webhook about the pledge. */
  notice: { title: string; body: string; data: Record<string, unknown>; dedupeKey: string; webhookEvent: string; webhookDedupeKey: string };
}

export type Activation =
  | { kind: 'activated'; pledge: PledgeRow; totals: PledgedTotals }
  /** The payments row was no longer pending, or the pledge no longer awaiting payment: nothing written. */
  | { kind: 'moved' }
  /** The campaign was decided meanwhile: the statement was aborted, nothing written. */
  | { kind: 'campaign_closed' };

/**
 * One statement for a batch of new pledges whose provider put the card in place (one pledge, or those of a hot
 * campaign group-committed together): each payments row takes its provider's answer (with its event), each
 * pledge becomes active, the ledger records each hold, the owners' notifications, pushes and webhooks are
 * queued, and last each campaign's totals move once by the batch's sum. The hot campaign row is locked only
 * by this one short statement and its commit. A campaign no longer live aborts the whole statement
 * (pledgeflow_abort), so a pledge never counts without its totals; a batch then retries one by one, so
 * only that campaign's pledges are refused.
 */
export async function activateNewPledges(db: Conn, inputs: readonly ActivationInput[]): Promise<Activation[]> {
  let rows: Record<string, unknown>[];
  try {
    rows = await activationStatement(db, inputs);
  } catch (err) {
    if ((err as { code?: string }).code !== 'PF001') throw err;
    if (inputs.length === 1) return [{ kind: 'campaign_closed' }];
    const one: Activation[] = [];
    for (const input of inputs) one.push(...(await activateNewPledges(db, [input])));
    return one;
  }
  const byId = new Map(rows.map((r) => [r.id as string, r]));
  return inputs.map((input): Activation => {
    const row = byId.get(input.pledge.id);
    if (!row) return { kind: 'moved' };
    const { totals_pledged_cents, totals_backer_count, totals_goal_cents, aborted: _aborted, ...pledge } = row;
    return {
      kind: 'activated',
      pledge: pledge as unknown as PledgeRow,
      totals: { pledged_cents: totals_pledged_cents as number, backer_count: totals_backer_count as number, goal_cents: totals_goal_cents as number },
    };
  });
}

async function activationStatement(db: Conn, inputs: readonly ActivationInput[]): Promise<Record<string, unknown>[]> {
  const column = <T>(pick: (input: ActivationInput) => T): T[] => inputs.map(pick);
  const { rows } = await db.raw<{ rows: Record<string, unknown>[] }>(
    `WITH b AS (
       SELECT * FROM unnest(
         CAST(:pledgeIds AS uuid[]), CAST(:keys AS text[]), CAST(:statuses AS text[]), CAST(:captured AS bigint[]), CAST(:refunded AS bigint[]),
         CAST(:providerPaymentIds AS text[]), CAST(:providerCustomerIds AS text[]), CAST(:providerPaymentMethods AS text[]),
         CAST(:eventTypes AS text[]), CAST(:providers AS text[]), CAST(:authorizations AS boolean[]),
         CAST(:ownerIds AS uuid[]), CAST(:titles AS text[]), CAST(:bodies AS text[]), CAST(:data AS jsonb[]), CAST(:dedupeKeys AS text[]),
         CAST(:webhookEvents AS text[]), CAST(:webhookKeys AS text[])
       ) AS b(pledge_id, key, status, captured, refunded, provider_payment_id, provider_customer_id, provider_payment_method,
              event_type, provider, is_authorization, owner_id, title, body, data, dedupe_key, webhook_event, webhook_key)
     ), keyed AS (
       -- Each payments row found by its key (LATERAL, one index lookup each): joined on status instead, the planner
       -- may walk every pending entry of payments_status_idx, dead ones included, which grows with the campaign.
       SELECT b.*, x.id AS payment_id FROM b CROSS JOIN LATERAL (SELECT id FROM payments WHERE business_key = b.key) x
     ), pay AS (
       UPDATE payments SET status = b.status,
              captured_cents = GREATEST(payments.captured_cents, b.captured), refunded_cents = GREATEST(payments.refunded_cents, b.refunded),
              provider_payment_id = b.provider_payment_id,
              provider_customer_id = COALESCE(b.provider_customer_id, payments.provider_customer_id),
              provider_payment_method = COALESCE(b.provider_payment_method, payments.provider_payment_method),
              failure_code = NULL, decline_code = NULL, failure_message = NULL, next_action = NULL, updated_at = now()
         FROM keyed b
        WHERE payments.id = b.payment_id AND payments.status = 'pending'
       RETURNING payments.id, b.pledge_id, payments.business_key, payments.captured_cents, payments.refunded_cents,
                 payments.provider_customer_id, payments.provider_payment_method
     ), ev AS (
       INSERT INTO payment_events (payment_id, type, from_status, to_status, data)
       SELECT pay.id, b.event_type, 'pending', b.status,
              jsonb_build_object('provider_payment_id', b.provider_payment_id, 'captured_cents', pay.captured_cents, 'refunded_cents', pay.refunded_cents)
         FROM pay JOIN b ON b.pledge_id = pay.pledge_id
     ), p AS (
       UPDATE pledges SET status = 'active', payment_key = pay.business_key,
              provider_customer_id = pay.provider_customer_id, provider_payment_method = pay.provider_payment_method,
              next_action = NULL, failure_code = NULL, failure_message = NULL, updated_at = now()
         FROM pay
        WHERE pledges.id = pay.pledge_id AND pledges.status IN ('pending', 'requires_action')
       RETURNING pledges.*
     ), ledger AS (
       INSERT INTO ledger_transactions (campaign_id, pledge_id, kind, amount_cents, currency, provider, provider_id, business_key)
       SELECT p.campaign_id, p.id, 'authorization', p.amount_cents, upper(p.currency), b.provider, b.provider_payment_id, b.key
         FROM p JOIN b ON b.pledge_id = p.id WHERE b.is_authorization
       ON CONFLICT (business_key) DO NOTHING
     ), n AS (
       INSERT INTO notifications (user_id, type, title, body, data, dedupe_key)
       SELECT b.owner_id, 'pledge_received', b.title, b.body, b.data, b.dedupe_key FROM p JOIN b ON b.pledge_id = p.id
       ON CONFLICT (dedupe_key) DO NOTHING
       RETURNING *
     ), pushed AS (${PUSH_OUTBOX_INSERT} RETURNING 1
     ), moved AS (
       SELECT campaign_id, sum(amount_cents) AS cents, count(*) AS backers FROM p GROUP BY campaign_id
     ), camp AS (
       UPDATE campaigns c SET pledged_cents = c.pledged_cents + moved.cents, backer_count = c.backer_count + moved.backers, updated_at = now()
         FROM moved
        WHERE c.id = moved.campaign_id AND c.status = 'live' AND c.ends_at > now()
       RETURNING c.id, c.pledged_cents, c.backer_count, c.goal_cents, c.webhook_url IS NOT NULL AS has_webhook
     ), wh AS (
       INSERT INTO outbox (topic, dedupe_key, payload)
       SELECT 'creator_webhook', b.webhook_key, jsonb_build_object(
                'campaign_id', camp.id, 'event', b.webhook_event, 'data', b.data,
                'event_id', 'evt_' || replace(gen_random_uuid()::text, '-', ''))
         FROM p JOIN b ON b.pledge_id = p.id JOIN camp ON camp.id = p.campaign_id
        WHERE camp.has_webhook
       ON CONFLICT (dedupe_key) DO NOTHING
     )
     SELECT p.*, camp.pledged_cents AS totals_pledged_cents, camp.backer_count AS totals_backer_count, camp.goal_cents AS totals_goal_cents,
            CASE WHEN camp.id IS NULL THEN pledgeflow_abort('campaign_not_live') END AS aborted
       FROM p LEFT JOIN camp ON camp.id = p.campaign_id`,
    {
      pledgeIds: column((i) => i.pledge.id),
      keys: column((i) => i.pledge.payment_key),
      statuses: column((i) => i.payment.status),
      captured: column((i) => i.payment.state.capturedCents),
      refunded: column((i) => i.payment.state.refundedCents),
      providerPaymentIds: column((i) => i.payment.state.providerPaymentId),
      providerCustomerIds: column((i) => i.payment.state.providerCustomerId ?? null),
      providerPaymentMethods: column((i) => i.payment.state.providerPaymentMethod ?? null),
      eventTypes: column((i) => i.payment.eventType),
      providers: column((i) => i.payment.provider),
      authorizations: column((i) => i.payment.kind === 'authorization'),
      ownerIds: column((i) => i.campaign.owner_id),
      titles: column((i) => i.notice.title),
      bodies: column((i) => i.notice.body),
      data: column((i) => JSON.stringify(i.notice.data)),
      dedupeKeys: column((i) => i.notice.dedupeKey),
      webhookEvents: column((i) => i.notice.webhookEvent),
      webhookKeys: column((i) => outboxKeyForWebhook(i.notice.webhookDedupeKey)),
    },
  );
  return rows;
}
