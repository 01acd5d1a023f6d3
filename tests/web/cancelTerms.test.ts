import { cancellationTerms } from '../../src/domain/cancellationPolicy';
import { cancellationPreview } from '../../web/src/pages/bookings/cancelTerms';

/**
 * The booking page states the refund and fee before the customer confirms a cancellation; those amounts must be
 * the ones the API then applies. The preview is checked against the API's own rule over prices, percents, windows
 * and both sides, including the cent the rounding keeps in the customer's favour.
 */
describe('the cancel preview is the API’s cancellation rule', () => {
  const now = Date.parse('2026-12-04T12:00:00Z');
  const prices = [0, 1, 99, 1_499, 4_999, 12_345, 100_000_000];
  const percents = [0, 1, 30, 33, 50, 99, 100];
  const hoursAhead = [-2, 0, 1, 23.99, 24, 48, 24 * 30];
  const windows = [0, 1, 24, 48, 8_760];

  it.each(['customer', 'provider'] as const)('for a %s, on every combination', (by) => {
    for (const price of prices) {
      for (const late_fee_percent of percents) {
        for (const ahead of hoursAhead) {
          for (const free_until_hours of windows) {
            const startsAt = now + ahead * 3_600_000;
            const api = cancellationTerms({ free_until_hours, late_fee_percent, no_show_fee_percent: 100 }, price, startsAt, now, by);
            const shown = cancellationPreview({ policy: { free_until_hours, late_fee_percent }, price_cents: price, start: new Date(startsAt).toISOString() }, by, now);
            expect({ late: shown.late, fee: shown.feeCents, refund: shown.refundCents }).toEqual({ late: api.late, fee: api.feeCents, refund: api.refundCents });
          }
        }
      }
    }
  });

  it('names the moment free cancellation ends', () => {
    const shown = cancellationPreview({ policy: { free_until_hours: 24, late_fee_percent: 50 }, price_cents: 1_000, start: '2026-12-10T09:00:00.000Z' }, 'customer', now);
    expect(shown).toEqual({ late: false, feeCents: 0, refundCents: 1_000, freeUntil: '2026-12-09T09:00:00.000Z' });
  });
});
