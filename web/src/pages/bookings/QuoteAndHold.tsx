import { useState, type ReactNode } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import type { Hold, Quote, Slot } from '../../api/bookings';
import { Countdown } from '../drops/Countdown';
import { useNow } from '../../lib/useNow';
import { money } from '../../lib/format';
import { toProblem, unwrap } from '../../lib/problem';
import { BookingProblem } from './bookingProblems';
import { whenBoth } from './zones';

/** "×1.2" for a price multiplier; "none" at 1. */
const factor = (n: number) => (n === 1 ? 'none' : `×${n.toFixed(2)}`);

/**
 * A picked slot's two steps before booking: a quote (the price with its breakdown, locked until it expires) and
 * a hold on the slot at that price (until the hold expires). `children` gets the live hold to act on.
 */
export function QuoteAndHold({ serviceId, providerZone, slot, children }: { serviceId: string; providerZone: string; slot: Slot; children: (hold: Hold) => ReactNode }) {
  const queries = useQueryClient();
  const [quote, setQuote] = useState<Quote>();
  const [hold, setHold] = useState<Hold>();
  // Computed at render (not in an effect) so a fresh quote or hold never shows as ended for a frame.
  const now = useNow();
  const quoteLeft = quote ? Date.parse(quote.expires_at) - now : 0;
  const holdLeft = hold ? Date.parse(hold.expires_at) - now : 0;
  // The slot that was quoted or held changes with the pick: start again.
  const [forSlot, setForSlot] = useState(slot.start);
  if (forSlot !== slot.start) {
    setForSlot(slot.start);
    setQuote(undefined);
    setHold(undefined);
  }

  const onTaken = (err: unknown) => {
    if (toProblem(err).code === 'slot_unavailable') void queries.invalidateQueries({ queryKey: ['slots', serviceId] });
  };
  const quoting = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/services/{id}/quotes', { params: { path: { id: serviceId } }, body: { start: slot.start } })),
    onSuccess: (q) => {
      setQuote(q);
      setHold(undefined);
    },
    onError: onTaken,
  });
  const holding = useMutation({
    mutationFn: (q: Quote) => unwrap(api.POST('/v1/bookings/holds', { body: { service_id: serviceId, start: q.start, quote_id: q.id } })),
    onSuccess: setHold,
    onError: onTaken,
  });

  if (hold && holdLeft > 0) {
    return (
      <section className="panel" aria-labelledby="held">
        <h2 id="held">Held for you</h2>
        <p>
          {whenBoth(hold.start, providerZone)} at <strong>{money(hold.price_cents, hold.currency)}</strong>
        </p>
        <Countdown until={hold.expires_at} label="Time left on the hold" />
        {children(hold)}
      </section>
    );
  }

  return (
    <section className="panel" aria-labelledby="price">
      <h2 id="price">Price</h2>
      {hold && <p role="status">Your hold on the slot ended and the slot was released. Get a new quote to hold it again.</p>}
      {quote && quoteLeft > 0 && !hold ? (
        <>
          <dl className="facts">
            <dt>Base price</dt>
            <dd>{money(quote.breakdown.base_cents, quote.currency)}</dd>
            <dt>Demand</dt>
            <dd>{factor(quote.breakdown.multipliers.demand)}</dd>
            <dt>Experience</dt>
            <dd>{factor(quote.breakdown.multipliers.experience)}</dd>
            <dt>Location</dt>
            <dd>{factor(quote.breakdown.multipliers.location)}</dd>
            <dt>Total</dt>
            <dd>
              <strong>{money(quote.price_cents, quote.currency)}</strong>
            </dd>
          </dl>
          <Countdown until={quote.expires_at} label="Price locked for" />
          <button type="button" disabled={holding.isPending} onClick={() => holding.mutate(quote)}>
            {holding.isPending ? 'Holding…' : 'Hold this slot'}
          </button>
        </>
      ) : (
        <>
          <p>{whenBoth(slot.start, providerZone)}</p>
          <button type="button" disabled={quoting.isPending} onClick={() => quoting.mutate()}>
            {quoting.isPending ? 'Getting a price…' : quote ? 'Get a new quote' : 'Get a quote'}
          </button>
        </>
      )}
      {/* Said once when the locked price runs out (the ticking clock stays silent). */}
      <p role="status" aria-live="polite" className="meta">
        {quote && quoteLeft <= 0 && !hold ? 'The quoted price expired. Get a new quote to hold the slot.' : ''}
      </p>
      {quoting.isError && <BookingProblem error={quoting.error} />}
      {holding.isError && <BookingProblem error={holding.error} />}
    </section>
  );
}
