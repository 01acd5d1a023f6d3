import fc from 'fast-check';
import { afterDecline, HARD_DECLINE_CODES, isHardDecline } from '../../src/domain/dunning';

/** The dunning rule: a schedule of k waits makes k retries; hard declines are never retried. */
describe('dunning', () => {
  const schedule = [86_400_000, 3 * 86_400_000, 5 * 86_400_000, 7 * 86_400_000];

  it('retries soft declines on the schedule, in order, then gives up', () => {
    expect([1, 2, 3, 4, 5].map((n) => afterDecline(n, 'insufficient_funds', schedule))).toEqual([
      { kind: 'retry', waitMs: schedule[0] },
      { kind: 'retry', waitMs: schedule[1] },
      { kind: 'retry', waitMs: schedule[2] },
      { kind: 'retry', waitMs: schedule[3] },
      { kind: 'give_up', why: 'retries_exhausted' },
    ]);
    expect(afterDecline(1, null, [])).toEqual({ kind: 'give_up', why: 'retries_exhausted' });
    expect(afterDecline(1, 'generic_decline', schedule)).toEqual({ kind: 'retry', waitMs: schedule[0] });
  });

  it('never retries a hard decline, at any attempt', () => {
    fc.assert(
      fc.property(fc.constantFrom(...HARD_DECLINE_CODES), fc.integer({ min: 1, max: 20 }), (code, attempt) => {
        expect(afterDecline(attempt, code, schedule)).toEqual({ kind: 'give_up', why: 'hard_decline' });
      }),
    );
    expect(isHardDecline('lost_card')).toBe(true);
    expect(isHardDecline('authentication_required')).toBe(true);
    expect(isHardDecline('insufficient_funds')).toBe(false);
    expect(() => afterDecline(0, null, schedule)).toThrow(RangeError);
  });
});
