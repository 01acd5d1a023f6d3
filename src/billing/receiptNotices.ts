import type { Knex } from 'knex';
import { notify } from '../notifications/notify';
import { recordSellerCharge, type ChargeSettings, type SellerChargeInput } from './charges';

/**
 * The notification a charge causes carries its receipt: `invoice_id` and `invoice_number` in its data, so the email
 * names the receipt and links (and attaches) its PDF (src/notifications/email/). Written in the charge's own
 * transaction, once per charge (only by the call that created it).
 */
export interface ReceiptNotice {
  userId: string;
  type: 'pledge_collected' | 'booking_charged';
  title: string;
  body: string;
  data: Record<string, unknown>;
  dedupeKey: string;
}

/**
 * A charge whose receipt is one line for the whole amount at tax rate 0 (charged as quoted, nothing added on top:
 * pledges, bookings), and the customer's notice naming the receipt.
 */
export async function recordOneLineCharge(
  trx: Knex.Transaction,
  charge: Omit<SellerChargeInput, 'customer' | 'receiptLines'> & { customerUserId: string; description: string },
  notice: ReceiptNotice,
  settings: ChargeSettings,
): Promise<void> {
  const { customerUserId, description, ...rest } = charge;
  // Deferred: no receipt yet, so no notice either; the batch that issues the receipt writes it (same dedupe key).
  const made = await recordSellerCharge(
    trx,
    { ...rest, customer: { userId: customerUserId }, receiptLines: [{ description, quantity: 1, unitAmountCents: charge.capturedCents, taxRateBps: 0 }] },
    settings,
  );
  if (!made.created || !made.invoiceId) return;
  await notify(trx, { ...notice, data: { ...notice.data, invoice_id: made.invoiceId, invoice_number: made.invoiceNumber } });
}
