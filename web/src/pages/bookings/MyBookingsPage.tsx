import { useSearchParams, Link } from 'react-router-dom';
import { useMyBookings, type BookingStatus } from '../../api/bookings';
import { useUser } from '../../api/useSession';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { useTitle } from '../../lib/useTitle';
import { SignInPrompt } from '../backer/SignInPrompt';
import { BookingLines, StatusFilter } from './BookingList';
import { LoadMore } from '../../components/LoadMore';

/** The customer's bookings, latest start first, by status (kept in the address). */
export function MyBookingsPage() {
  useTitle('My bookings');
  const user = useUser();
  const [params, setParams] = useSearchParams();
  const status = (params.get('status') || undefined) as BookingStatus | undefined;
  const bookings = useMyBookings(user !== undefined, status);
  if (!user) return <SignInPrompt what="your bookings" />;
  return (
    <>
      <h1>My bookings</h1>
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <StatusFilter value={status} onChange={(s) => setParams(s ? { status: s } : {})} />
      </form>
      <div aria-live="polite">
        {bookings.isPending ? (
          <Loading what="your bookings" />
        ) : bookings.isError ? (
          <ErrorBox error={bookings.error} retry={() => void bookings.refetch()} />
        ) : bookings.items.length === 0 ? (
          <Empty>
            No bookings{status ? ' with that status' : ' yet'}. <Link to="/services">Find a service</Link>.
          </Empty>
        ) : (
          <>
            <BookingLines bookings={bookings.items} />
            <LoadMore list={bookings} what="bookings" />
          </>
        )}
      </div>
    </>
  );
}
