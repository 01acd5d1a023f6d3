import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import { ledgerSummary } from '../src/campaigns/ledger';

/**
 * The soak's reconciliation, from the simulated gateway's own tables (`sim_payment_intents` by
 * `metadata->>'business_key'`, `sim_refunds`) next to our rows, and Temporal's visibility. Each check returns
 * whether it holds and the offending rows (a few), so a failed report says what to look at.
 */

export interface Check {
  ok: boolean;
  counts?: Record<string, number>;
  offenders?: unknown[];
}

const few = <T>(rows: T[]) => rows.slice(0, 5);
const rowsOf = async <T>(db: Knex, sql: string, bindings: unknown[] = []) => ((await db.raw(sql, bindings as Knex.RawBinding[])) as { rows: T[] }).rows;

/** Per pledge: what the gateway took under its keys (`pledge:<id>:...`). */
const PLEDGE_MONEY = `
  WITH money AS (
    SELECT split_part(metadata->>'business_key', ':', 2) AS pledge_id,
           count(*) FILTER (WHERE captured_cents > 0)::int AS captured_intents,
           count(*) FILTER (WHERE status = 'requires_capture')::int AS open_holds,
           coalesce(sum(captured_cents), 0)::bigint AS captured,
           coalesce(sum(refunded_cents), 0)::bigint AS refunded
      FROM sim_payment_intents WHERE metadata->>'business_key' LIKE 'pledge:%' GROUP BY 1)
  SELECT p.id, p.status, p.amount_cents::int AS amount, coalesce(p.collected_cents, 0)::bigint AS collected, c.outcome,
         coalesce(m.captured_intents, 0) AS captured_intents, coalesce(m.open_holds, 0) AS open_holds,
         coalesce(m.captured, 0)::bigint AS captured, coalesce(m.refunded, 0)::bigint AS refunded
    FROM pledges p JOIN campaigns c ON c.id = p.campaign_id
    LEFT JOIN money m ON m.pledge_id = p.id::text
   WHERE p.campaign_id = ANY(?::uuid[])`;

interface PledgeMoney {
  id: string;
  status: string;
  amount: number;
  collected: string;
  outcome: string | null;
  captured_intents: number;
  open_holds: number;
  captured: string;
  refunded: string;
}

export async function pledgeChecks(db: Knex, campaignIds: string[]): Promise<Record<string, Check>> {
  const rows = await rowsOf<PledgeMoney>(db, PLEDGE_MONEY, [campaignIds]);
  const statuses: Record<string, number> = {};
  for (const r of rows) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const chargedTwice = rows.filter((r) => r.captured_intents > 1);
  // Succeeded campaign: every pledge that was active at the deadline collected once, for what the gateway took.
  const wrongCollection = rows.filter(
    (r) =>
      r.outcome === 'succeeded' &&
      (r.status === 'active' ||
        (r.status === 'collected' && (r.captured_intents !== 1 || Number(r.captured) !== Number(r.collected) || Number(r.refunded) !== 0)) ||
        (r.status !== 'collected' && Number(r.captured) - Number(r.refunded) !== 0)),
  );
  // Failed campaign: nothing taken, every hold voided.
  const failedTaken = rows.filter((r) => r.outcome === 'failed' && (Number(r.captured) > 0 || r.open_holds > 0 || r.status === 'active' || r.status === 'collected'));
  // Cancelled pledges: nothing taken and no hold left open.
  const cancelledTaken = rows.filter((r) => r.status === 'cancelled' && (Number(r.captured) - Number(r.refunded) !== 0 || r.open_holds > 0));
  const campaigns = await db('campaigns').whereIn('id', campaignIds).select('id', 'status', 'outcome');
  return {
    campaigns_settled: { ok: campaigns.every((c: { status: string }) => c.status === 'settled'), offenders: few(campaigns.filter((c: { status: string }) => c.status !== 'settled')) },
    pledges_charged_at_most_once: { ok: chargedTwice.length === 0, counts: { pledges: rows.length, ...statuses }, offenders: few(chargedTwice) },
    pledges_collected_once_if_campaign_succeeded: {
      ok: wrongCollection.length === 0,
      counts: { in_succeeded_campaigns: rows.filter((r) => r.outcome === 'succeeded').length, collected: statuses.collected ?? 0 },
      offenders: few(wrongCollection),
    },
    pledges_of_failed_campaign_not_charged_holds_voided: {
      ok: failedTaken.length === 0,
      counts: { in_failed_campaigns: rows.filter((r) => r.outcome === 'failed').length },
      offenders: few(failedTaken),
    },
    cancelled_pledges_not_charged: { ok: cancelledTaken.length === 0, offenders: few(cancelledTaken) },
  };
}

/** Ledger = gateway, per campaign: captures + charges and refunds as the gateway recorded them, and ledgerSummary. */
export async function ledgerCheck(db: Knex, campaignIds: string[]): Promise<Check> {
  const offenders: unknown[] = [];
  for (const id of campaignIds) {
    const summary = await ledgerSummary(db, id);
    const [gw] = await rowsOf<{ captured: string; refunded: string }>(
      db,
      `SELECT coalesce(sum(i.captured_cents), 0)::bigint AS captured,
              coalesce((SELECT sum(r.amount_cents) FROM sim_refunds r JOIN sim_payment_intents j ON j.id = r.payment_intent_id
                         WHERE r.status = 'succeeded' AND split_part(j.metadata->>'business_key', ':', 2) IN (SELECT id::text FROM pledges WHERE campaign_id = ?)), 0)::bigint AS refunded
         FROM sim_payment_intents i
        WHERE i.metadata->>'business_key' LIKE 'pledge:%' AND split_part(i.metadata->>'business_key', ':', 2) IN (SELECT id::text FROM pledges WHERE campaign_id = ?)`,
      [id, id],
    );
    const taken = summary.byKind.capture + summary.byKind.charge;
    if (!summary.reconciled || taken !== Number(gw!.captured) || summary.byKind.refund !== Number(gw!.refunded)) {
      offenders.push({ campaign: id, ledger: summary.byKind, campaign_collected: summary.campaignCollectedCents, gateway: gw });
    }
  }
  return { ok: offenders.length === 0, counts: { campaigns: campaignIds.length }, offenders };
}

interface OrderMoney {
  id: string;
  status: string;
  total: string;
  intents: number;
  succeeded: number;
  open_holds: number;
  captured: string;
  refunded: string;
  refunds: number;
}

/**
 * Each order by its payment key: confirmed (and onwards) → exactly one intent, captured for the total, nothing
 * refunded; cancelled → nothing kept (voided, or captured and refunded once); pending → stuck. And money the
 * gateway took under a checkout key with no order behind it must have been given back.
 */
export async function orderChecks(db: Knex, storeId: string): Promise<Record<string, Check>> {
  const rows = await rowsOf<OrderMoney>(
    db,
    `WITH money AS (
       SELECT i.metadata->>'business_key' AS key, count(*)::int AS intents,
              count(*) FILTER (WHERE i.status = 'succeeded')::int AS succeeded,
              count(*) FILTER (WHERE i.status = 'requires_capture')::int AS open_holds,
              coalesce(sum(i.captured_cents), 0)::bigint AS captured, coalesce(sum(i.refunded_cents), 0)::bigint AS refunded,
              (SELECT count(*)::int FROM sim_refunds r WHERE r.payment_intent_id = ANY(array_agg(i.id))) AS refunds
         FROM sim_payment_intents i WHERE i.metadata->>'business_key' LIKE 'checkout:%' GROUP BY 1)
     SELECT o.id, o.status, o.total_cents::bigint AS total, coalesce(m.intents, 0) AS intents, coalesce(m.succeeded, 0) AS succeeded,
            coalesce(m.open_holds, 0) AS open_holds, coalesce(m.captured, 0)::bigint AS captured, coalesce(m.refunded, 0)::bigint AS refunded,
            coalesce(m.refunds, 0) AS refunds
       FROM orders o LEFT JOIN money m ON m.key = o.payment_key WHERE o.store_id = ?`,
    [storeId],
  );
  const statuses: Record<string, number> = {};
  for (const r of rows) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const live = rows.filter((r) => ['confirmed', 'processing', 'shipped', 'delivered'].includes(r.status));
  const wrongCapture = live.filter((r) => r.intents !== 1 || r.succeeded !== 1 || Number(r.captured) !== Number(r.total) || Number(r.refunded) !== 0);
  const cancelled = rows.filter((r) => r.status === 'cancelled');
  const wrongCancel = cancelled.filter((r) => r.open_holds > 0 || Number(r.captured) !== Number(r.refunded) || r.refunds > 1);
  const pending = rows.filter((r) => r.status === 'pending');
  const orphans = await rowsOf<{ key: string; status: string; kept: string }>(
    db,
    `SELECT i.metadata->>'business_key' AS key, i.status, (i.captured_cents - i.refunded_cents)::bigint AS kept
       FROM sim_payment_intents i
      WHERE i.metadata->>'business_key' LIKE 'checkout:%'
        AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.payment_key = i.metadata->>'business_key')
        AND (i.captured_cents > i.refunded_cents OR i.status = 'requires_capture')`,
  );
  return {
    orders_captured_once_for_total: { ok: wrongCapture.length === 0, counts: { orders: rows.length, ...statuses }, offenders: few(wrongCapture) },
    cancelled_orders_refunded_or_voided_once: { ok: wrongCancel.length === 0, counts: { cancelled: cancelled.length }, offenders: few(wrongCancel) },
    no_order_left_pending: { ok: pending.length === 0, counts: { pending: pending.length }, offenders: few(pending) },
    no_money_kept_without_an_order: { ok: orphans.length === 0, counts: { orphans: orphans.length }, offenders: few(orphans) },
  };
}

/** stock = sold + held + free for every variant of the store: the counters against reservations and order items. */
export async function stockCheck(db: Knex, storeId: string): Promise<Check> {
  const rows = await rowsOf<{ variant_id: string; total_stock: number; reserved: number; sold: number; held: number; ordered: number; stale_holds: number }>(
    db,
    `SELECT i.variant_id, i.total_stock, i.reserved, i.sold,
            coalesce((SELECT sum(r.quantity) FROM reservations r WHERE r.variant_id = i.variant_id AND r.status = 'held'), 0)::int AS held,
            coalesce((SELECT sum(oi.quantity) FROM order_items oi JOIN orders o ON o.id = oi.order_id
                       WHERE oi.variant_id = i.variant_id AND o.status <> 'cancelled'), 0)::int AS ordered,
            (SELECT count(*)::int FROM reservations r WHERE r.variant_id = i.variant_id AND r.status = 'held' AND r.expires_at < now() - interval '60 seconds') AS stale_holds
       FROM inventory i WHERE i.store_id = ?`,
    [storeId],
  );
  const wrong = rows.filter((r) => r.reserved !== r.held || r.sold !== r.ordered || r.total_stock - r.sold - r.reserved < 0 || r.stale_holds > 0);
  return {
    ok: wrong.length === 0,
    counts: {
      variants: rows.length,
      stock: rows.reduce((s, r) => s + r.total_stock, 0),
      sold: rows.reduce((s, r) => s + r.sold, 0),
      held: rows.reduce((s, r) => s + r.reserved, 0),
      free: rows.reduce((s, r) => s + r.total_stock - r.sold - r.reserved, 0),
    },
    offenders: few(wrong),
  };
}

/**
 * No workflow stuck: every running workflow is either expected to run (the hold-expiry sweepers, the recurring
 * schedules' runs) or younger than its deadline: a checkout a few minutes, a campaign its deadline plus the
 * settlement allowance, a drop its end plus the same allowance.
 */
export async function workflowCheck(
  client: Client,
  db: Knex,
  opts: { checkoutMaxMs: number; settleAllowanceMs: number },
): Promise<Check> {
  const running: Record<string, number> = {};
  const stuck: unknown[] = [];
  const now = Date.now();
  for await (const wf of client.workflow.list({ query: 'ExecutionStatus="Running"' })) {
    const id = wf.workflowId;
    const kind = id.includes(':hold-expiry:') ? 'hold-expiry' : id.split(':')[0]!;
    running[kind] = (running[kind] ?? 0) + 1;
    const age = now - wf.startTime.getTime();
    let late = false;
    if (kind === 'hold-expiry') late = false;
    else if (kind === 'checkout') late = age > opts.checkoutMaxMs;
    else if (kind === 'campaign') {
      const c = (await db('campaigns').where({ id: id.slice('campaign:'.length) }).first('ends_at')) as { ends_at: Date } | undefined;
      late = !c || now > c.ends_at.getTime() + opts.settleAllowanceMs;
    } else if (kind === 'drop') {
      const d = (await db('drops').where({ id: id.slice('drop:'.length) }).first('closes_at', 'opens_at', 'claim_window_seconds', 'mode')) as
        | { closes_at: Date | null; opens_at: Date; claim_window_seconds: number; mode: string }
        | undefined;
      // A lottery ends at most a few claim windows after the draw; a first-come drop at closes_at.
      const end = d ? (d.closes_at ?? d.opens_at).getTime() + (d.mode === 'lottery' ? 4 * d.claim_window_seconds * 1000 : 0) : 0;
      late = !d || now > end + opts.settleAllowanceMs;
    } else late = age > opts.checkoutMaxMs; // anything else (a pledge's dropped window, a schedule's run) that lingers
    if (late) stuck.push({ id, type: wf.type, started: wf.startTime.toISOString(), age_seconds: Math.round(age / 1000) });
  }
  return { ok: stuck.length === 0, counts: running, offenders: few(stuck) };
}
