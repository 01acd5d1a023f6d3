import type { Booking } from '../../api/bookings';
import { ErrorBox } from '../../components/states';
import { useNow } from '../../lib/useNow';
import { useBookingOutcome } from './useBookingOutcome';

/** The provider's Completed / No-show for a confirmed booking, offered once it has started. */
export function ProviderOutcomeButtons({ booking }: { booking: Pick<Booking, 'id' | 'start' | 'status'> }) {
  const now = useNow(30_000);
  const outcome = useBookingOutcome(booking.id);
  if (booking.status !== 'confirmed' || Date.parse(booking.start) > now) return null;
  return (
    <>
      <button type="button" disabled={outcome.isPending} onClick={() => outcome.mutate('/v1/bookings/{id}/complete')}>
        Mark completed
      </button>
      <button type="button" className="secondary" disabled={outcome.isPending} onClick={() => outcome.mutate('/v1/bookings/{id}/no-show')}>
        Mark no-show
      </button>
      {outcome.isError && <ErrorBox error={outcome.error} />}
    </>
  );
}
