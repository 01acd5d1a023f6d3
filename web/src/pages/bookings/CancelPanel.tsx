import { useId, useState } from 'react';
import type { Booking } from '../../api/bookings';
import { ErrorBox } from '../../components/states';
import { money } from '../../lib/format';
import { useNow } from '../../lib/useNow';
import { cancellationPreview } from './cancelTerms';
import { useBookingOutcome } from './useBookingOutcome';
import { whenBoth } from './zones';

/**
 * Cancel in two steps: the first press states what cancelling now refunds and keeps (by the policy frozen at
 * booking), the second cancels. A provider's cancellation always refunds in full.
 */
export function CancelPanel({ booking, by }: { booking: Booking; by: 'customer' | 'provider' }) {
  const [open, setOpen] = useState(false);
  // One panel per booking line in the provider's list: each heading needs its own id.
  const heading = useId();
  const now = useNow();
  const cancel = useBookingOutcome(booking.id);
  const terms = cancellationPreview(booking, by, now);
  if (!open) {
    return (
      <button type="button" className="secondary" onClick={() => setOpen(true)}>
        Cancel booking…
      </button>
    );
  }
  return (
    <section className="panel" aria-labelledby={heading}>
      <h2 id={heading}>Cancel this booking?</h2>
      <p>
        {by === 'provider'
          ? 'A cancellation by the provider refunds the customer in full.'
          : terms.late
            ? `Free cancellation ended ${whenBoth(terms.freeUntil, booking.provider.time_zone)}; the policy keeps ${booking.policy.late_fee_percent}% of the price.`
            : `Free cancellation until ${whenBoth(terms.freeUntil, booking.provider.time_zone)}.`}
      </p>
      <dl className="facts">
        <dt>Refund</dt>
        <dd>{money(terms.refundCents, booking.currency)}</dd>
        <dt>Cancellation fee</dt>
        <dd>{money(terms.feeCents, booking.currency)}</dd>
      </dl>
      <div className="actions">
        <button type="button" className="danger" disabled={cancel.isPending} onClick={() => cancel.mutate('/v1/bookings/{id}/cancel')}>
          {cancel.isPending ? 'Cancelling…' : `Confirm cancellation (refund ${money(terms.refundCents, booking.currency)})`}
        </button>
        <button type="button" className="secondary" onClick={() => setOpen(false)}>
          Keep the booking
        </button>
      </div>
      {cancel.isError && <ErrorBox error={cancel.error} />}
    </section>
  );
}
