/**
 * Invoice arithmetic (issue 13; README "Billing"): exact integers in minor units, never floats.
 * - line amount = quantity × unit amount;
 * - line tax = amount × rate (basis points) / 10000, rounded per line half-even (to the nearest minor unit, a tie
 *   to the even one), added on top;
 * - subtotal = Σ amounts, tax = Σ line taxes, total = subtotal + tax.
 * Postgres checks the same rules (migrations/20261205_01_invoices.ts).
 */

export const BPS_PER_UNIT = 10_000;

export interface LineAmounts {
  amount_cents: number;
  tax_cents: number;
}

export interface InvoiceTotals {
  subtotal_cents: number;
  tax_cents: number;
  total_cents: number;
}

const MAX = BigInt(Number.MAX_SAFE_INTEGER);

function safe(n: bigint, what: string): number {
  if (n > MAX) throw new RangeError(`${what} exceeds the largest exact amount`);
  return Number(n);
}

/** n / d rounded half-even, for n ≥ 0 and d > 0. */
export function divRoundHalfEven(n: bigint, d: bigint): bigint {
  if (n < 0n || d <= 0n) throw new RangeError('divRoundHalfEven needs n >= 0 and d > 0');
  const q = n / d;
  const twiceR = 2n * (n % d);
  if (twiceR > d || (twiceR === d && q % 2n === 1n)) return q + 1n;
  return q;
}

export function lineAmounts(quantity: number, unitCents: number, taxRateBps: number): LineAmounts {
  if (!Number.isSafeInteger(quantity) || quantity <= 0) throw new RangeError('quantity must be a positive integer');
  if (!Number.isSafeInteger(unitCents) || unitCents < 0) throw new RangeError('unit amount must be a non-negative integer');
  if (!Number.isInteger(taxRateBps) || taxRateBps < 0 || taxRateBps > BPS_PER_UNIT) throw new RangeError('tax rate must be 0..10000 basis points');
  const amount = BigInt(quantity) * BigInt(unitCents);
  const tax = divRoundHalfEven(amount * BigInt(taxRateBps), BigInt(BPS_PER_UNIT));
  return { amount_cents: safe(amount, 'line amount'), tax_cents: safe(tax, 'line tax') };
}

export function invoiceTotals(lines: readonly LineAmounts[]): InvoiceTotals {
  let subtotal = 0n;
  let tax = 0n;
  for (const l of lines) {
    subtotal += BigInt(l.amount_cents);
    tax += BigInt(l.tax_cents);
  }
  return { subtotal_cents: safe(subtotal, 'subtotal'), tax_cents: safe(tax, 'tax'), total_cents: safe(subtotal + tax, 'total') };
}

/** The issuer's rate from TAX_RATES_BPS: its own entry (user id or 'platform'), else `default`, else 0. */
export function taxRateFor(rates: Readonly<Record<string, number>>, issuerKey: string): number {
  return rates[issuerKey.toLowerCase()] ?? rates['default'] ?? 0;
}
