import {
  campaignSummary,
  canTransitionCampaign,
  CAMPAIGN_STATUSES,
  COUNTED_PLEDGE_STATUSES,
  deadlineChangeError,
  decideOutcome,
  formatMoney,
  isBeforeDecision,
  paymentModeFor,
  percentFunded,
  secondsLeft,
  settlementFor,
  SLOT_HOLDING_PLEDGE_STATUSES,
  statusAtLaunch,
  wouldDropBelowGoal,
} from '../../src/domain/campaigns';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('campaign status transitions', () => {
  it('follows draft → scheduled → live → outcome → settled', () => {
    expect(canTransitionCampaign('draft', 'scheduled')).toBe(true);
    expect(canTransitionCampaign('draft', 'live')).toBe(true);
    expect(canTransitionCampaign('scheduled', 'live')).toBe(true);
    for (const outcome of ['succeeded', 'failed', 'cancelled'] as const) {
      expect(canTransitionCampaign('live', outcome)).toBe(true);
      expect(canTransitionCampaign(outcome, 'settled')).toBe(true);
    }
  });

  it('never goes backwards, skips the decision, or leaves settled', () => {
    expect(canTransitionCampaign('live', 'scheduled')).toBe(false);
    expect(canTransitionCampaign('live', 'draft')).toBe(false);
    expect(canTransitionCampaign('live', 'settled')).toBe(false);
    expect(canTransitionCampaign('scheduled', 'succeeded')).toBe(false);
    expect(canTransitionCampaign('succeeded', 'failed')).toBe(false);
    for (const s of CAMPAIGN_STATUSES) expect(canTransitionCampaign('settled', s)).toBe(false);
  });

  it('lets cancel and deadline changes through only before the decision', () => {
    expect(CAMPAIGN_STATUSES.filter(isBeforeDecision)).toEqual(['draft', 'scheduled', 'live']);
  });

  it('counts only pledges that hold money or a card, and slot holders include those awaiting authentication', () => {
    expect([...COUNTED_PLEDGE_STATUSES].sort()).toEqual(['active', 'collected', 'payment_failed']);
    for (const s of COUNTED_PLEDGE_STATUSES) expect(SLOT_HOLDING_PLEDGE_STATUSES).toContain(s);
    expect(SLOT_HOLDING_PLEDGE_STATUSES).toEqual(expect.arrayContaining(['pending', 'requires_action']));
    for (const freed of ['cancelled', 'dropped', 'voided', 'declined', 'refunded'] as const) {
      expect(SLOT_HOLDING_PLEDGE_STATUSES).not.toContain(freed);
    }
  });
});

describe('decideOutcome', () => {
  const base = { fundingModel: 'all_or_nothing' as const, goalCents: 10_000, cancelled: false };

  it('all-or-nothing collects exactly when the goal is met', () => {
    expect(decideOutcome({ ...base, pledgedCents: 10_000 })).toEqual({ outcome: 'succeeded', settlement: 'collect' });
    expect(decideOutcome({ ...base, pledgedCents: 25_000 })).toEqual({ outcome: 'succeeded', settlement: 'collect' });
    expect(decideOutcome({ ...base, pledgedCents: 9_999 })).toEqual({ outcome: 'failed', settlement: 'void' });
  });

  it('flexible collects whatever was pledged, below the goal too', () => {
    expect(decideOutcome({ ...base, fundingModel: 'flexible', pledgedCents: 1 })).toEqual({ outcome: 'succeeded', settlement: 'collect' });
  });

  it('flexible with nothing pledged has nothing to collect', () => {
    expect(decideOutcome({ ...base, fundingModel: 'flexible', pledgedCents: 0 })).toEqual({ outcome: 'failed', settlement: 'void' });
  });

  it('a cancelled campaign never collects, funded or not', () => {
    expect(decideOutcome({ ...base, pledgedCents: 50_000, cancelled: true })).toEqual({ outcome: 'cancelled', settlement: 'void' });
    expect(decideOutcome({ ...base, fundingModel: 'flexible', pledgedCents: 50_000, cancelled: true })).toEqual({
      outcome: 'cancelled',
      settlement: 'void',
    });
  });
});

describe('settlementFor and statusAtLaunch', () => {
  it('only a success collects; a stored outcome settles as it was decided', () => {
    expect(settlementFor('succeeded')).toBe('collect');
    expect(settlementFor('failed')).toBe('void');
    expect(settlementFor('cancelled')).toBe('void');
  });

  it('a launched campaign waits for a future starts_at and is live at once otherwise', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    expect(statusAtLaunch(new Date(now.getTime() + HOUR), now)).toBe('scheduled');
    expect(statusAtLaunch(now, now)).toBe('live');
    expect(statusAtLaunch(new Date(now.getTime() - HOUR), now)).toBe('live');
    expect(statusAtLaunch(null, now)).toBe('live');
  });
});

describe('paymentModeFor', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it('saves the card when the deadline is beyond the hold window, authorizes otherwise', () => {
    expect(paymentModeFor(new Date(now.getTime() + 6 * DAY + 1), now, 6 * DAY)).toBe('save_card');
    expect(paymentModeFor(new Date(now.getTime() + 6 * DAY), now, 6 * DAY)).toBe('authorize');
    expect(paymentModeFor(new Date(now.getTime() + HOUR), now, 6 * DAY)).toBe('authorize');
  });
});

describe('percentFunded and secondsLeft', () => {
  it('rounds down, so 99.99% never reads as funded', () => {
    expect(percentFunded(9_999, 10_000)).toBe(99);
    expect(percentFunded(10_000, 10_000)).toBe(100);
    expect(percentFunded(25_050, 10_000)).toBe(250);
    expect(percentFunded(0, 10_000)).toBe(0);
    expect(percentFunded(5, 0)).toBe(0);
  });

  it('stays exact for the largest goals', () => {
    expect(percentFunded(100_000_000_000, 100_000_000_000)).toBe(100);
    expect(percentFunded(99_999_999_999, 100_000_000_000)).toBe(99);
  });

  it('counts whole seconds left and never goes negative', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(secondsLeft(new Date(now.getTime() + 90_999), now)).toBe(90);
    expect(secondsLeft(new Date(now.getTime() - 5_000), now)).toBe(0);
  });
});

describe('deadlineChangeError (the extendDeadline validator)', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const current = new Date('2026-01-10T00:00:00Z');

  it('accepts a deadline later than both now and the current one', () => {
    expect(deadlineChangeError(current, new Date('2026-01-11T00:00:00Z'), now)).toBeUndefined();
  });

  it('rejects an earlier or equal deadline', () => {
    expect(deadlineChangeError(current, new Date('2026-01-05T00:00:00Z'), now)).toMatch(/later than the current/);
    expect(deadlineChangeError(current, current, now)).toMatch(/later than the current/);
  });

  it('rejects a deadline in the past, even when the current one is further past', () => {
    const past = new Date('2025-12-01T00:00:00Z');
    expect(deadlineChangeError(past, new Date('2025-12-15T00:00:00Z'), now)).toMatch(/future/);
  });
});

describe('wouldDropBelowGoal (the last-24-hours rule)', () => {
  const endsAt = new Date('2026-01-10T00:00:00Z');
  const inWindow = new Date(endsAt.getTime() - 2 * HOUR);
  const early = new Date(endsAt.getTime() - 3 * DAY);
  const rule = { fundingModel: 'all_or_nothing' as const, goalCents: 10_000, pledgedCents: 12_000, endsAt, lockWindowMs: DAY };

  it('blocks a change that takes a funded campaign below its goal inside the window', () => {
    expect(wouldDropBelowGoal({ ...rule, reductionCents: 2_001, now: inWindow })).toBe(true);
  });

  it('allows a reduction that keeps the goal met', () => {
    expect(wouldDropBelowGoal({ ...rule, reductionCents: 2_000, now: inWindow })).toBe(false);
  });

  it('allows anything before the window, for flexible campaigns, for increases, and when not yet funded', () => {
    expect(wouldDropBelowGoal({ ...rule, reductionCents: 12_000, now: early })).toBe(false);
    expect(wouldDropBelowGoal({ ...rule, fundingModel: 'flexible', reductionCents: 12_000, now: inWindow })).toBe(false);
    expect(wouldDropBelowGoal({ ...rule, reductionCents: -500, now: inWindow })).toBe(false);
    expect(wouldDropBelowGoal({ ...rule, pledgedCents: 9_000, reductionCents: 1_000, now: inWindow })).toBe(false);
  });

  it('treats the window boundary as inside', () => {
    expect(wouldDropBelowGoal({ ...rule, reductionCents: 5_000, now: new Date(endsAt.getTime() - DAY) })).toBe(true);
    expect(wouldDropBelowGoal({ ...rule, reductionCents: 5_000, now: new Date(endsAt.getTime() - DAY - 1) })).toBe(false);
  });
});

describe('formatMoney and campaignSummary', () => {
  it('formats integer cents without floating point', () => {
    expect(formatMoney(123_456_789, 'USD')).toBe('$1,234,567.89');
    expect(formatMoney(5, 'usd')).toBe('$0.05');
    expect(formatMoney(-250, 'USD')).toBe('-$2.50');
    expect(formatMoney(100_000, 'EUR')).toBe('EUR 1,000.00');
  });

  it('gives operators a one-line summary', () => {
    expect(campaignSummary({ title: 'Solar kiln', goalCents: 500_000, currency: 'USD', endsAt: new Date('2026-03-01T12:00:00Z') })).toBe(
      'Campaign Solar kiln: goal $5,000.00, ends 2026-03-01T12:00:00.000Z',
    );
  });
});
