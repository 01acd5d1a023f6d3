import { invoiceTotals, lineAmounts, type InvoiceTotals, type LineAmounts } from './invoiceMath';

/**
 * An order's money (issue 13): each line's amount and its tax at the store owner's rate, rounded per line
 * half-even and added on top (the invoice rule, src/domain/invoiceMath.ts), so the order, its authorization, its
 * capture and its receipt all come to the same total = subtotal + tax. Pure: the checkout workflow computes the
 * amount it authorizes with it, and the order step the rows it writes.
 */

export interface OrderAmounts extends InvoiceTotals {
  taxRateBps: number;
  /** Per line, in item order. */
  lines: LineAmounts[];
}

export function orderAmounts(items: ReadonlyArray<{ quantity: number; unit_price_cents: number }>, taxRateBps: number): OrderAmounts {
  const lines = items.map((i) => lineAmounts(i.quantity, i.unit_price_cents, taxRateBps));
  return { taxRateBps, lines, ...invoiceTotals(lines) };
}
