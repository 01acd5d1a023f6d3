import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { unwrap } from '../../lib/problem';

export type OutcomePath = '/v1/bookings/{id}/cancel' | '/v1/bookings/{id}/complete' | '/v1/bookings/{id}/no-show';

/** Ends a booking (cancel, complete, no-show) and refreshes every list and page that shows it. */
export function useBookingOutcome(bookingId: string) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (path: OutcomePath) =>
      unwrap(path === '/v1/bookings/{id}/cancel' ? api.POST(path, { params: { path: { id: bookingId } }, body: {} }) : api.POST(path, { params: { path: { id: bookingId } } })),
    onSuccess: (booking) => {
      queries.setQueryData(['booking', bookingId], booking);
      void queries.invalidateQueries({ queryKey: ['my-bookings'] });
      void queries.invalidateQueries({ queryKey: ['provider-bookings'] });
    },
  });
}
