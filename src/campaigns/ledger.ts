import type { Knex } from 'knex';

/**
 * The money ledger: one row per authorization, capture, charge, void or refund, with provider ids; keyed by
 * business key so a retried step records once.
 */
export interface LedgerEntry {
  campaignId: string;
  pledgeId: string;
  kind: 'authorization' | 'capture' | 'charge' | 'void' | 'refund';
  amountCents: number;
  currency: string;
  provider: string;
  providerId: string;
  businessKey: string;
}

/**
 * Records one money movement. Call it in the transaction that moves the pledge/campaign totals, so the
 * ledger and the totals can never disagree; a replayed step hits the unique business key and adds nothing.
 */
export async function recordLedgerEntry(db: Knex | Knex.Transaction, entry: LedgerEntry): Promise<void> {
  await db.raw(
    `INSERT INTO ledger_transactions (campaign_id, pledge_id, kind, amount_cents, currency, provider, provider_id, business_key)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (business_key) DO NOTHING`,
    [
      entry.campaignId,
      entry.pledgeId,
      entry.kind,
      entry.amountCents,
      entry.currency.toUpperCase(),
      entry.provider,
      entry.providerId,
      entry.businessKey,
    ],
  );
}

export interface LedgerSummary {
  campaignId: string;
  /** Sum of amount_cents per kind (every kind present, 0 when none). */
  byKind: Record<LedgerEntry['kind'], number>;
  /** Money actually taken and kept: captures + charges - refunds. */
  netCollectedCents: number;
  /** What the campaign row says it collected. */
  campaignCollectedCents: number;
  /** The two agree. */
  reconciled: boolean;
}

/** A campaign's ledger totals next to its collected_cents: they must agree after every settlement step. */
export async function ledgerSummary(db: Knex, campaignId: string): Promise<LedgerSummary> {
  const rows = (await db('ledger_transactions')
    .where({ campaign_id: campaignId })
    .groupBy('kind')
    .select('kind')
    .sum({ total: 'amount_cents' })) as Array<{ kind: LedgerEntry['kind']; total: string | number }>;
  const byKind: LedgerSummary['byKind'] = { authorization: 0, capture: 0, charge: 0, void: 0, refund: 0 };
  for (const r of rows) byKind[r.kind] = Number(r.total);
  const campaign = (await db('campaigns').where({ id: campaignId }).first('collected_cents')) as { collected_cents: string | number } | undefined;
  const campaignCollectedCents = Number(campaign?.collected_cents ?? 0);
  const netCollectedCents = byKind.capture + byKind.charge - byKind.refund;
  return { campaignId, byKind, netCollectedCents, campaignCollectedCents, reconciled: netCollectedCents === campaignCollectedCents };
}
