import { BPS_PER_UNIT, divRoundHalfEven } from './invoiceMath';

/**
 * Platform fees (issue 13; README "Billing"), pure: exact integers in minor units.
 * - crowdfunding: PLATFORM_FEE_CROWDFUNDING_BPS of each pledge collected;
 * - bookings: PLATFORM_FEE_BOOKINGS_BPS of what the booking kept (captured or fee charged);
 * - store: the store plan's transaction_fee_bps of the order's capture, plus PLATFORM_FEE_STORE_FIXED_CENTS per order.
 * Rounding: the percentage part is rounded half-even to the minor unit (the rule invoice tax uses), then the fixed
 * part is added, and the fee is capped at the charge: a fee never exceeds what was captured (a 20-cent order with a
 * 30-cent fixed fee pays a 20-cent fee), so captured = seller share + fee with a share ≥ 0.
 */

export interface FeeRule {
  /** Basis points (1/100 of a percent) of the captured amount, 0..10000. */
  bps: number;
  /** Minor units added per charge, ≥ 0. */
  fixedCents: number;
}

export type FeeSettings = {
  PLATFORM_FEE_CROWDFUNDING_BPS: number;
  PLATFORM_FEE_BOOKINGS_BPS: number;
  PLATFORM_FEE_STORE_FIXED_CENTS: number;
};

export const crowdfundingFeeRule = (s: Pick<FeeSettings, 'PLATFORM_FEE_CROWDFUNDING_BPS'>): FeeRule => ({ bps: s.PLATFORM_FEE_CROWDFUNDING_BPS, fixedCents: 0 });
export const bookingsFeeRule = (s: Pick<FeeSettings, 'PLATFORM_FEE_BOOKINGS_BPS'>): FeeRule => ({ bps: s.PLATFORM_FEE_BOOKINGS_BPS, fixedCents: 0 });
/** A store's fee: its plan's transaction fee (bps) plus the platform's fixed fee per order. */
export const storeFeeRule = (planTransactionFeeBps: number, s: Pick<FeeSettings, 'PLATFORM_FEE_STORE_FIXED_CENTS'>): FeeRule => ({
  bps: planTransactionFeeBps,
  fixedCents: s.PLATFORM_FEE_STORE_FIXED_CENTS,
});

/** The platform fee on a charge of `capturedCents` under `rule`: half-even percentage + fixed, never above the charge. */
export function platformFeeCents(capturedCents: number, rule: FeeRule): number {
  if (!Number.isSafeInteger(capturedCents) || capturedCents < 0) throw new RangeError('captured amount must be a non-negative integer');
  if (!Number.isInteger(rule.bps) || rule.bps < 0 || rule.bps > BPS_PER_UNIT) throw new RangeError('fee rate must be 0..10000 basis points');
  if (!Number.isSafeInteger(rule.fixedCents) || rule.fixedCents < 0) throw new RangeError('fixed fee must be a non-negative integer');
  const percentage = divRoundHalfEven(BigInt(capturedCents) * BigInt(rule.bps), BigInt(BPS_PER_UNIT));
  const fee = percentage + BigInt(rule.fixedCents);
  return Number(fee < BigInt(capturedCents) ? fee : BigInt(capturedCents));
}

/** What the seller keeps of a charge before any refund: captured − fee. */
export const sellerShareCents = (capturedCents: number, feeCents: number): number => capturedCents - feeCents;
