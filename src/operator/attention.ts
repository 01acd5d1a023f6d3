import type { Knex } from 'knex';
import { billingAttention } from '../billing/attention';
import { payoutsWorkflowId } from '../billing/contract';
import { campaignAttention } from '../campaigns/attention';
import { campaignWorkflowId, droppedPledgeWorkflowId } from '../campaigns/contract';
import { orderAttention } from '../commerce/attention';
import { checkoutWorkflowId } from '../commerce/contract';
import { dropAttention } from '../drops/attention';
import { dropWorkflowId } from '../drops/contract';
import { newestFirstPage } from '../campaigns/keysetCursor';
import { attentionSelect } from './attentionColumns';

/**
 * The operators' "needs attention" list: what each domain says is stuck or failed (its own SQL, in its folder),
 * as one list newest first, each item with the business workflow id to look it up by in the Temporal Web UI.
 */

/** What the workflow id is made of (`ref`), per kind: the id functions of the domains' contracts. */
const WORKFLOW_ID = {
  settlement_failed: campaignWorkflowId,
  pledge_dropped: droppedPledgeWorkflowId,
  order_stuck: checkoutWorkflowId,
  order_failed: checkoutWorkflowId,
  drop_stuck: dropWorkflowId,
  payout_failed: payoutsWorkflowId,
  // The run key is `<workflow id>:<first run id>` (src/workflows/billing/reconcileBilling.ts).
  billing_differences: (runKey: string) => runKey.slice(0, runKey.lastIndexOf(':')),
  // The reconciliation run that made the repair (kept with it by src/operator/repairLog.ts).
  reconciliation_repair: (workflowId: string) => workflowId,
} satisfies Record<string, (ref: string) => string>;

export type AttentionKind = keyof typeof WORKFLOW_ID;
export const ATTENTION_KINDS = Object.keys(WORKFLOW_ID) as [AttentionKind, ...AttentionKind[]];

export interface AttentionItem {
  kind: AttentionKind;
  id: string;
  title: string;
  detail: string;
  amount_cents: number | null;
  currency: string | null;
  at: string;
  workflow_id: string;
}

interface Row {
  kind: AttentionKind;
  id: string;
  title: string;
  detail: string;
  amount_cents: string | number | null;
  currency: string | null;
  at: Date;
  ref: string;
}

/** How long the reconciliations' repairs stay on the list: long enough to be seen after a weekend. */
const REPAIRS_SHOWN_DAYS = 7;

/**
 * What the commerce and bookings reconciliations repaired lately: a repair means something had gone wrong (a crash,
 * a lost timer, a drifted counter) even though it is fixed now, and a run of them points at a cause to look into.
 */
function repairAttention(db: Knex): Knex.QueryBuilder {
  return db('reconciliation_repairs as r')
    .where('r.created_at', '>', db.raw(`now() - make_interval(days => ?)`, [REPAIRS_SHOWN_DAYS]))
    .select(
      attentionSelect(db, {
        kind: 'reconciliation_repair',
        id: 'r.id',
        title: `r.domain || ' reconciliation: ' || replace(r.kind, '_', ' ')`,
        detail: `r.subject || CASE WHEN r.count > 1 THEN ' (' || r.count || ' rows)' ELSE '' END`,
        amountCents: null,
        currency: null,
        at: 'r.created_at',
        ref: 'r.workflow_id',
      }),
    );
}

function everything(db: Knex, graceSeconds: number): Knex.QueryBuilder {
  const [first, ...rest] = [...campaignAttention(db), ...orderAttention(db, graceSeconds), ...dropAttention(db, graceSeconds), ...billingAttention(db), repairAttention(db)];
  // The first query in a subselect: knex would put its GROUP BY after the unions otherwise.
  return db.from(db.select('*').from(first!.as('first')).unionAll(rest, true).as('a'));
}

/** GET /v1/operator/attention: a page of the list, optionally one kind. */
export async function attentionPage(
  db: Knex,
  graceSeconds: number,
  query: { kind?: AttentionKind; limit: number; cursor?: string },
): Promise<{ data: AttentionItem[]; next_cursor: string | null }> {
  const q = everything(db, graceSeconds).select('a.*');
  if (query.kind) q.where('a.kind', query.kind);
  const page = await newestFirstPage<Row>(db, q, { time: 'a.at', id: 'a.id' }, query);
  return {
    data: page.rows.map(({ ref, ...r }) => ({
      ...r,
      amount_cents: r.amount_cents === null ? null : Number(r.amount_cents),
      currency: r.currency === null ? null : r.currency.trim(),
      at: r.at.toISOString(),
      workflow_id: WORKFLOW_ID[r.kind](ref),
    })),
    next_cursor: page.nextCursor,
  };
}

/** How many items of each kind there are (every kind, zeros included). */
export async function attentionCounts(db: Knex, graceSeconds: number): Promise<Record<AttentionKind, number>> {
  const rows = (await everything(db, graceSeconds).select('a.kind').count({ n: '*' }).groupBy('a.kind')) as Array<{ kind: AttentionKind; n: string | number }>;
  const counts = Object.fromEntries(ATTENTION_KINDS.map((k) => [k, 0])) as Record<AttentionKind, number>;
  for (const r of rows) counts[r.kind] = Number(r.n);
  return counts;
}
