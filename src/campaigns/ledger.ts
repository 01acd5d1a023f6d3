import type { Knex } from 'knex';

/**
 * The money ledger: one row per authorization, capture, charge, void or refund, with provider ids; keyed by
 * business key so a retried step records once. OWNER: settlement work (stub signature).
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

export async function recordLedgerEntry(_db: Knex | Knex.Transaction, _entry: LedgerEntry): Promise<void> {
  // STUB
}
