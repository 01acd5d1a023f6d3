import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../src/api/deps';
import type { SellerChargeInput } from '../../src/billing/charges';
import { makeCampaign, makePledge, makeUsers } from '../helpers/fixtures';

/**
 * Charges fixtures: a real payments row to stand a charge on (seller_charges.payment_key references payments), and
 * a charge input for any source, so the charge tests need no order or booking flow.
 */
export async function paymentKeyFor(deps: AppDeps): Promise<string> {
  const campaign = await makeCampaign(deps, {});
  const [backer] = await makeUsers(deps, 1);
  const pledgeId = await makePledge(deps, campaign, { backerId: backer!, mode: 'authorize', amountCents: 1_000 });
  return `pledge:${pledgeId}:authorize`;
}

export function chargeInput(over: Partial<SellerChargeInput> & Pick<SellerChargeInput, 'sellerUserId' | 'customer' | 'paymentKey'>): SellerChargeInput {
  const captured = over.capturedCents ?? 2_500;
  return {
    source: { kind: 'order', id: randomUUID() },
    currency: 'USD',
    capturedCents: captured,
    feeCents: 100,
    receiptLines: [{ description: 'A thing', quantity: 1, unitAmountCents: captured, taxRateBps: 0 }],
    availableAt: 'pending',
    ledger: { provider: 'simulated', providerId: `pi_${randomUUID()}` },
    ...over,
  };
}

export interface ChargeTotals {
  charges: number;
  entries: number;
  ledgerFees: number;
  invoices: number;
  feeLines: number;
}

/** Everything a seller's charges wrote, counted (to prove a replay adds nothing). */
export async function chargeTotals(deps: AppDeps, sellerUserId: string): Promise<ChargeTotals> {
  const n = async (q: Promise<Array<{ n: number | string }>>) => Number((await q)[0]!.n);
  const db = deps.db;
  return {
    charges: await n(db('seller_charges').where({ seller_user_id: sellerUserId }).count({ n: '*' })),
    entries: await n(db('balance_entries').where({ seller_user_id: sellerUserId }).count({ n: '*' })),
    ledgerFees: await n(db('ledger_transactions as l').join('seller_charges as c', 'c.id', 'l.seller_charge_id').where('c.seller_user_id', sellerUserId).count({ n: '*' })),
    invoices: await n(db('invoices').where({ issuer_user_id: sellerUserId }).count({ n: '*' })),
    feeLines: await n(db('invoice_lines as l').join('invoices as i', 'i.id', 'l.invoice_id').where({ 'i.source_kind': 'fees', 'i.customer_user_id': sellerUserId }).count({ n: '*' })),
  };
}
