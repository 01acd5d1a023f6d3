/**
 * Which mail people may turn off. Essential mail (account security, payments they owe or were charged,
 * orders) is always sent; every other kind belongs to one category a user can opt out of, by the
 * preferences API or the unsubscribe link in the mail itself.
 */
export const EMAIL_CATEGORIES = ['campaign_updates', 'pledge_activity', 'drops', 'other'] as const;
export type EmailCategory = (typeof EMAIL_CATEGORIES)[number];

export type EmailClass = { essential: true } | { essential: false; category: EmailCategory };

const ESSENTIAL_KINDS = new Set(['payment_failed', 'payment_reminder', 'pledge_dropped', 'pledge_collected', 'verify_email', 'password_reset', 'password_changed']);

export function classify(kind: string): EmailClass {
  // Receipts, order confirmations and status changes are transactional whatever their exact kind.
  if (ESSENTIAL_KINDS.has(kind) || kind.startsWith('order_') || kind.startsWith('receipt')) return { essential: true };
  // A booking's confirmation, reminders, moves and cancellation are part of the appointment; an invitation to
  // rate it is not. A provider's onboarding decisions concern their account.
  if (kind === 'booking_feedback_requested') return { essential: false, category: 'other' };
  if (kind.startsWith('booking_') || kind.startsWith('provider_')) return { essential: true };
  // A seller's payouts (paid, failed, an account to finish) are about money owed to them.
  if (kind.startsWith('payout_')) return { essential: true };
  if (kind === 'pledge_received') return { essential: false, category: 'pledge_activity' };
  if (kind.startsWith('campaign_')) return { essential: false, category: 'campaign_updates' };
  if (kind.startsWith('drop_')) return { essential: false, category: 'drops' };
  return { essential: false, category: 'other' };
}

export const isEmailCategory = (s: string): s is EmailCategory => (EMAIL_CATEGORIES as readonly string[]).includes(s);
