import { useRef, useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useService, type Hold, type Slot } from '../../api/bookings';
import { useUser } from '../../api/useSession';
import { SelectField } from '../../components/Field';
import { ErrorBox, Loading } from '../../components/states';
import { money } from '../../lib/format';
import { toProblem, unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { TEST_CARDS } from '../PledgeForm';
import { BookingProblem } from './bookingProblems';
import { QuoteAndHold } from './QuoteAndHold';
import { SlotPicker } from './SlotPicker';
import { Rating } from './Rating';

/** A service: what it is, its cancellation terms, and the way to book it (slot → quote → hold → book). */
export function ServicePage() {
  const { id = '' } = useParams();
  const service = useService(id);
  const user = useUser();
  const location = useLocation();
  const [slot, setSlot] = useState<Slot>();
  useTitle(service.data?.title ?? 'Service');
  if (service.isPending) return <Loading what="the service" />;
  if (service.isError) return <ErrorBox error={service.error} retry={() => void service.refetch()} />;
  const s = service.data;
  const policy = s.cancellation_policy;
  return (
    <>
      <h1>{s.title}</h1>
      <p className="lead">
        by <Link to={`/providers/${s.provider.id}`}>{s.provider.display_name}</Link> · {s.provider.location.city} · <Rating provider={s.provider} />
      </p>
      <div className="columns">
        <section aria-labelledby="about">
          <h2 id="about">About</h2>
          {s.description && <p className="story">{s.description}</p>}
          <dl className="facts">
            <dt>Duration</dt>
            <dd>{s.duration_minutes} minutes</dd>
            <dt>From</dt>
            <dd>{money(s.base_price_cents, s.currency)}</dd>
            <dt>Cancellation</dt>
            <dd>
              Free until {policy.free_until_hours} hours before the start; later, {policy.late_fee_percent}% of the price is kept. Not showing up costs{' '}
              {policy.no_show_fee_percent}%.
            </dd>
          </dl>
          <h2>Pick a time</h2>
          <SlotPicker serviceId={s.id} currency={s.currency} picked={slot} onPick={setSlot} />
        </section>
        <aside>
          {!slot ? (
            <p className="meta">Pick a free slot to see its price.</p>
          ) : !user ? (
            <p>
              <Link to={`/signin?next=${encodeURIComponent(location.pathname)}`}>Sign in</Link> to get a price and book this slot.
            </p>
          ) : (
            <QuoteAndHold serviceId={s.id} providerZone={s.provider.time_zone} slot={slot}>
              {(hold) => <BookForm hold={hold} />}
            </QuoteAndHold>
          )}
        </aside>
      </div>
    </>
  );
}

/**
 * The test card and Book. One Idempotency-Key per attempt: kept when no answer came (so pressing again cannot
 * book twice), new once the API answered (a declined card may be retried with another).
 */
function BookForm({ hold }: { hold: Hold }) {
  const navigate = useNavigate();
  const queries = useQueryClient();
  const [card, setCard] = useState<string>(TEST_CARDS[0].value);
  const [notes, setNotes] = useState('');
  const attemptKey = useRef<string | undefined>(undefined);
  const book = useMutation({
    mutationFn: () => {
      attemptKey.current ??= crypto.randomUUID();
      return unwrap(
        api.POST('/v1/bookings', {
          params: { header: { 'idempotency-key': attemptKey.current } },
          body: { hold_id: hold.id, payment_method: card, ...(notes.trim() ? { notes: notes.trim() } : {}) },
        }),
      );
    },
    onSuccess: (booking) => {
      attemptKey.current = undefined;
      void queries.invalidateQueries({ queryKey: ['my-bookings'] });
      void queries.invalidateQueries({ queryKey: ['slots', booking.service_id] });
      navigate(`/bookings/${booking.id}`, { state: { justBooked: true } });
    },
    onError: (err) => {
      const p = toProblem(err);
      if (p.status >= 400 && p.status < 500) attemptKey.current = undefined;
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    book.mutate();
  };
  return (
    <form onSubmit={submit}>
      <SelectField label="Card (test cards)" value={card} onChange={setCard} options={[...TEST_CARDS]} />
      <div className="field">
        <label htmlFor="booking-notes">Notes for the provider (optional)</label>
        <textarea id="booking-notes" value={notes} maxLength={2000} onChange={(e) => setNotes(e.target.value)} />
      </div>
      <button type="submit" disabled={book.isPending}>
        {book.isPending ? 'Booking…' : `Book for ${money(hold.price_cents, hold.currency)}`}
      </button>
      {book.isError && <BookingProblem error={book.error} />}
    </form>
  );
}
