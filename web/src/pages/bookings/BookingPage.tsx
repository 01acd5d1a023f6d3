import { Link, useLocation, useParams } from 'react-router-dom';
import { useBooking, type BookingWithHistory } from '../../api/bookings';
import { useUser } from '../../api/useSession';
import { ErrorBox, Loading } from '../../components/states';
import { dateTime, money, words } from '../../lib/format';
import { useNow } from '../../lib/useNow';
import { useTitle } from '../../lib/useTitle';
import { SignInPrompt } from '../backer/SignInPrompt';
import { CancelPanel } from './CancelPanel';
import { FeedbackForm } from './FeedbackForm';
import { ReschedulePanel } from './ReschedulePanel';
import { ProviderOutcomeButtons } from './ProviderOutcomeButtons';
import { whenBoth } from './zones';

/** One booking for its customer or its provider: when, price, terms, history, and what each side may do next. */
export function BookingPage() {
  const { id = '' } = useParams();
  const user = useUser();
  const booking = useBooking(id, user !== undefined);
  useTitle('Booking');
  if (!user) return <SignInPrompt what="this booking" />;
  if (booking.isPending) return <Loading what="the booking" />;
  if (booking.isError) return <ErrorBox error={booking.error} retry={() => void booking.refetch()} />;
  return <BookingView booking={booking.data} asCustomer={booking.data.customer_id === user.id} />;
}

function BookingView({ booking: b, asCustomer }: { booking: BookingWithHistory; asCustomer: boolean }) {
  const justBooked = (useLocation().state as { justBooked?: boolean } | null)?.justBooked;
  const now = useNow(30_000);
  const zone = b.provider.time_zone;
  const upcoming = b.status === 'confirmed' && Date.parse(b.start) > now;
  return (
    <>
      <h1>{b.service.title}</h1>
      <p className="lead">
        Status: <span className={`status status-${b.status}`}>{words(b.status)}</span> · with <Link to={`/providers/${b.provider.id}`}>{b.provider.display_name}</Link>
      </p>
      {justBooked && b.status === 'confirmed' && (
        <p className="success" role="status">
          Booked: your slot is confirmed.
        </p>
      )}
      <div className="columns">
        <section aria-labelledby="details">
          <h2 id="details">Details</h2>
          <dl className="facts">
            <dt>Starts</dt>
            <dd>{whenBoth(b.start, zone)}</dd>
            <dt>Ends</dt>
            <dd>{whenBoth(b.end, zone)}</dd>
            {!asCustomer && (
              <>
                <dt>Customer</dt>
                <dd>{b.customer_name}</dd>
              </>
            )}
            <dt>Price</dt>
            <dd>{money(b.price_cents, b.currency)}</dd>
            <dt>Cancellation terms</dt>
            <dd>
              Free until {b.policy.free_until_hours} hours before the start, then {b.policy.late_fee_percent}% kept; no-show {b.policy.no_show_fee_percent}%.
            </dd>
            {b.status !== 'confirmed' && (
              <>
                <dt>Refunded</dt>
                <dd>{money(b.refund_cents, b.currency)}</dd>
                <dt>Fee kept</dt>
                <dd>{money(b.fee_cents, b.currency)}</dd>
              </>
            )}
            {b.notes && (
              <>
                <dt>Notes</dt>
                <dd>{b.notes}</dd>
              </>
            )}
          </dl>
          <div className="actions">
            {b.status === 'confirmed' && asCustomer && upcoming && <ReschedulePanel booking={b} />}
            {b.status === 'confirmed' && !asCustomer && <ProviderOutcomeButtons booking={b} />}
            {b.status === 'confirmed' && <CancelPanel booking={b} by={asCustomer ? 'customer' : 'provider'} />}
          </div>
          {b.status === 'completed' && asCustomer && <FeedbackForm bookingId={b.id} providerId={b.provider.id} />}
        </section>
        <aside>
          <h2>Status history</h2>
          <ol className="history">
            {b.status_history.map((h) => (
              <li key={`${h.at}-${h.status}`}>
                <strong>{words(h.status)}</strong> <time dateTime={h.at}>{dateTime(h.at)}</time>
                <span className="meta"> · by {words(h.actor)}</span>
              </li>
            ))}
          </ol>
        </aside>
      </div>
      <p>{asCustomer ? <Link to="/me/bookings">All my bookings</Link> : <Link to="/provider">Provider dashboard</Link>}</p>
    </>
  );
}
