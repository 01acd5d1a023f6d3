import { divRoundHalfEven } from './invoiceMath';

/**
 * The tax part of a credit note (issue 13; README "Billing"). A credit note's amount is money given back, tax
 * included, so the tax it credits follows the receipt's proportion, counted over everything refunded so far: after
 * a refund, the tax credited by the receipt's standing credit notes is the receipt's tax × refunded / receipt total,
 * rounded half-even to the minor unit, and this credit note's tax is the increase. So the credit notes of a fully
 * refunded receipt add up to its tax to the cent, whatever the split; a note's tax is never more than its amount
 * (for any rate up to 100 %) nor than the tax not yet credited. Pure: exact integers, no I/O.
 */

export interface CreditNoteTaxInput {
  /** This credit note's amount (gross), > 0. */
  amountCents: number;
  /** What the charge has refunded with this credit note counted (its standing credit notes: pending or succeeded). */
  refundedAfterCents: number;
  invoiceTotalCents: number;
  invoiceTaxCents: number;
  /** Tax of the receipt's earlier credit notes that still stand (a failed one gave its tax back). */
  creditedTaxCents: number;
}

export function creditNoteTax(input: CreditNoteTaxInput): number {
  const { amountCents, refundedAfterCents, invoiceTotalCents, invoiceTaxCents, creditedTaxCents } = input;
  for (const [name, v] of Object.entries(input)) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer`);
  }
  const left = invoiceTaxCents - creditedTaxCents;
  if (invoiceTotalCents === 0 || left <= 0) return 0;
  const refunded = BigInt(Math.min(refundedAfterCents, invoiceTotalCents));
  const due = Number(divRoundHalfEven(refunded * BigInt(invoiceTaxCents), BigInt(invoiceTotalCents))) - creditedTaxCents;
  return Math.max(0, Math.min(due, left, amountCents));
}
