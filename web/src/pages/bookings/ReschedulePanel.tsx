import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import type { BookingWithHistory, Hold, Slot } from '../../api/bookings';
import { unwrap } from '../../lib/problem';
import { BookingProblem } from './bookingProblems';
import { QuoteAndHold } from './QuoteAndHold';
import { SlotPicker } from './SlotPicker';

/** Move a confirmed booking: pick a new slot of the same service, hold it, then move onto it (the price stays). */
export function ReschedulePanel({ booking }: { booking: BookingWithHistory }) {
  const [open, setOpen] = useState(false);
  const [slot, setSlot] = useState<Slot>();
  if (!open) {
    return (
      <button type="button" className="secondary" onClick={() => setOpen(true)}>
        Reschedule…
      </button>
    );
  }
  return (
    <section className="panel" aria-labelledby="reschedule">
      <h2 id="reschedule">Pick a new time</h2>
      <SlotPicker serviceId={booking.service.id} currency={booking.currency} picked={slot} onPick={setSlot} />
      {slot && (
        <QuoteAndHold serviceId={booking.service.id} providerZone={booking.provider.time_zone} slot={slot}>
          {(hold) => <MoveButton bookingId={booking.id} hold={hold} onMoved={() => setOpen(false)} />}
        </QuoteAndHold>
      )}
      <button type="button" className="link" onClick={() => setOpen(false)}>
        Keep the current time
      </button>
    </section>
  );
}

function MoveButton({ bookingId, hold, onMoved }: { bookingId: string; hold: Hold; onMoved: () => void }) {
  const queries = useQueryClient();
  const move = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/bookings/{id}/reschedule', { params: { path: { id: bookingId } }, body: { hold_id: hold.id } })),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ['booking', bookingId] });
      void queries.invalidateQueries({ queryKey: ['my-bookings'] });
      onMoved();
    },
  });
  return (
    <>
      <button type="button" disabled={move.isPending} onClick={() => move.mutate()}>
        Move my booking here
      </button>
      {move.isError && <BookingProblem error={move.error} />}
    </>
  );
}
