import { useState } from 'react';
import { Link } from 'react-router-dom';
import { useMutation } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useMyProvider, useProviderBookings, type BookingStatus, type Provider } from '../../api/bookings';
import { useUser } from '../../api/useSession';
import { Field } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { SignInPrompt } from '../backer/SignInPrompt';
import { AvailabilityEditor } from './AvailabilityEditor';
import { BookingLines, StatusFilter } from './BookingList';
import { CancelPanel } from './CancelPanel';
import { LoadMore } from '../../components/LoadMore';
import { OnboardingForm } from './OnboardingForm';
import { ProviderOutcomeButtons } from './ProviderOutcomeButtons';
import { ServiceEditor } from './ServiceEditor';

const STATUS_TEXT: Record<Provider['status'], string> = {
  pending: 'Pending approval: an operator reviews your profile. Meanwhile you can set your hours and add services; customers find you once approved.',
  active: 'Approved: customers can find and book your services.',
  rejected: 'Not approved.',
  expired: 'Your onboarding expired before it was reviewed.',
};

/** The provider's own side: onboarding, then status, payouts, opening hours, services and bookings. */
export function ProviderDashboardPage() {
  useTitle('Provider');
  const user = useUser();
  const provider = useMyProvider(user !== undefined);
  if (!user) return <SignInPrompt what="your provider profile" />;
  if (user.role !== 'provider') {
    return (
      <>
        <h1>Provider</h1>
        <p>
          Offering services needs a provider account. <Link to="/signup">Sign up as a provider</Link> with another email.
        </p>
      </>
    );
  }
  if (provider.isPending) return <Loading what="your provider profile" />;
  if (provider.isError) return <ErrorBox error={provider.error} retry={() => void provider.refetch()} />;
  if (provider.data === null) {
    return (
      <>
        <h1>Provider</h1>
        <OnboardingForm />
      </>
    );
  }
  const p = provider.data;
  return (
    <>
      <h1>{p.display_name}</h1>
      <p className={p.status === 'active' ? 'success' : 'notice'} role="status">
        {STATUS_TEXT[p.status]}
        {p.status === 'rejected' && p.rejection_reason && ` Reason: ${p.rejection_reason}`}
      </p>
      {p.status === 'active' && (
        <p>
          <Link to={`/providers/${p.id}`}>Your public page</Link>
        </p>
      )}
      <PayoutSetup provider={p} />
      <section aria-labelledby="hours">
        <h2 id="hours">Opening hours</h2>
        <AvailabilityEditor providerId={p.id} />
      </section>
      <section aria-labelledby="my-services">
        <h2 id="my-services">Services</h2>
        <ServiceEditor providerId={p.id} />
      </section>
      <section aria-labelledby="provider-bookings">
        <h2 id="provider-bookings">Bookings</h2>
        <ProviderBookings providerId={p.id} />
      </section>
    </>
  );
}

function PayoutSetup({ provider }: { provider: Provider }) {
  const setUp = useMutation({ mutationFn: () => unwrap(api.POST('/v1/providers/{id}/payout-account', { params: { path: { id: provider.id } } })) });
  const status = setUp.data?.status ?? provider.payout_status;
  if (status === 'ready') return <p className="meta">Payouts: ready.</p>;
  return (
    <section aria-labelledby="payouts" className="panel">
      <h2 id="payouts">Payouts</h2>
      <p>{status === 'pending' ? 'Your payout account needs details from you.' : 'Set up a payout account to be paid for your bookings.'}</p>
      {setUp.data?.onboarding_url ? (
        <p>
          <a href={setUp.data.onboarding_url}>Continue at the payment provider</a>
        </p>
      ) : (
        <button type="button" className="secondary" disabled={setUp.isPending} onClick={() => setUp.mutate()}>
          Set up payouts
        </button>
      )}
      {setUp.isError && <ErrorBox error={setUp.error} />}
    </section>
  );
}

/** The instant a "YYYY-MM-DD" day (plus some days) begins in the reader's zone (DST days have 23 or 25 hours). */
function localMidnight(day: string, plusDays = 0): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y!, m! - 1, d! + plusDays).toISOString();
}

function ProviderBookings({ providerId }: { providerId: string }) {
  const [status, setStatus] = useState<BookingStatus | undefined>();
  const [fromDay, setFromDay] = useState('');
  const [toDay, setToDay] = useState('');
  // Days in the reader's zone: from the start of the first to the end of the last.
  const bookings = useProviderBookings(providerId, {
    status,
    from: fromDay ? localMidnight(fromDay) : undefined,
    to: toDay ? localMidnight(toDay, 1) : undefined,
  });
  const filtered = Boolean(status || fromDay || toDay);
  return (
    <>
      <form className="filters" aria-label="Booking filters" onSubmit={(e) => e.preventDefault()}>
        <StatusFilter value={status} onChange={setStatus} />
        <Field label="Starting from" type="date" value={fromDay} onChange={(e) => setFromDay(e.target.value)} />
        <Field label="Starting until" type="date" value={toDay} onChange={(e) => setToDay(e.target.value)} />
      </form>
      <div aria-live="polite">
        {bookings.isPending ? (
          <Loading what="bookings" />
        ) : bookings.isError ? (
          <ErrorBox error={bookings.error} retry={() => void bookings.refetch()} />
        ) : bookings.items.length === 0 ? (
          <Empty>No bookings{filtered ? ' match these filters' : ' yet'}.</Empty>
        ) : (
          <>
            <BookingLines
              bookings={bookings.items}
              actions={(b) =>
                b.status === 'confirmed' && (
                  <>
                    <ProviderOutcomeButtons booking={b} />
                    <CancelPanel booking={b} by="provider" />
                  </>
                )
              }
            />
            <LoadMore list={bookings} what="bookings" />
          </>
        )}
      </div>
    </>
  );
}
