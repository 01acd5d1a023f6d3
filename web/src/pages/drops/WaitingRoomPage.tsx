import { useState, type FormEvent } from 'react';
import { Link, useLocation, useParams } from 'react-router-dom';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Schemas } from '../../api/client';
import { useUser } from '../../api/useSession';
import { SelectField } from '../../components/Field';
import { ErrorBox, Loading } from '../../components/states';
import { money } from '../../lib/format';
import { retryDelayMs, toProblem, unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { TEST_CARDS } from '../PledgeForm';
import { AddressFields, EMPTY_ADDRESS } from './AddressFields';
import { Countdown } from './Countdown';
import { DROP_STATUS_WORDS, useDrop, type Drop } from './dropsApi';

type Place = Schemas['DropQueuePlace'];

/** The place's token is kept for the tab, so a reload keeps the place (it names the place; the API signs it). */
const tokenKey = (dropId: string) => `pledgeflow.queue.${dropId}`;
const POLL_MS = 2_000;

/** The first-come waiting room: join, watch one's position and ETA (polled: the API has no stream for it), then check out the held unit. */
export function WaitingRoomPage() {
  const { id = '' } = useParams();
  useTitle('Waiting room');
  const drop = useDrop(id);
  if (drop.isPending) return <Loading what="the drop" />;
  if (drop.isError)
    return (
      <>
        <h1>Waiting room</h1>
        <ErrorBox error={drop.error} retry={() => void drop.refetch()} />
      </>
    );
  return <WaitingRoom drop={drop.data} />;
}

function WaitingRoom({ drop }: { drop: Drop }) {
  const user = useUser();
  const location = useLocation();
  const [token, setToken] = useState(() => sessionStorage.getItem(tokenKey(drop.id)));
  const remember = (t: string | null) => {
    if (t) sessionStorage.setItem(tokenKey(drop.id), t);
    else sessionStorage.removeItem(tokenKey(drop.id));
    setToken(t);
  };
  const next = encodeURIComponent(location.pathname);
  let body;
  if (drop.mode !== 'fcfs') body = <p>This drop is a lottery. <Link to={`/drops/${drop.id}`}>Enter it on the drop page</Link>.</p>;
  else if (!user) body = <p><Link to={`/signin?next=${next}`}>Sign in</Link> or <Link to={`/signup?next=${next}`}>create an account</Link> to join the line.</p>;
  else if (!token) body = <JoinButton drop={drop} onJoined={remember} />;
  else body = <PlaceView drop={drop} token={token} onForget={() => remember(null)} />;
  return (
    <article>
      <p className="meta">
        <span className={`status status-${drop.status}`}>{DROP_STATUS_WORDS[drop.status]}</span> · {money(drop.price_cents, drop.currency)} · {drop.remaining} of {drop.quantity} left
      </p>
      <h1>Waiting room</h1>
      <p>
        <Link to={`/drops/${drop.id}`}>About this drop</Link>
      </p>
      <section className="panel" aria-labelledby="place">
        <h2 id="place">Your place</h2>
        {body}
      </section>
    </article>
  );
}

function JoinButton({ drop, onJoined }: { drop: Drop; onJoined: (token: string) => void }) {
  const queries = useQueryClient();
  const join = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/drops/{id}/queue', { params: { path: { id: drop.id } } })),
    onSuccess: (joined) => {
      queries.setQueryData(['drop', drop.id, 'place', joined.token], joined);
      onJoined(joined.token);
    },
    // A crowd at the door is answered 429 with the wait it asks for: join again after it, a few times, by itself.
    retry: (count, error) => count < 5 && toProblem(error).transient,
    retryDelay: retryDelayMs,
  });
  if (drop.status === 'sold_out' || drop.status === 'closed') return <p>This drop has ended.</p>;
  return (
    <>
      {join.error && <ErrorBox error={join.error} />}
      {join.isPending && join.failureReason && (
        <p className="meta" role="status">
          Many shoppers are arriving at once; joining again in a moment.
        </p>
      )}
      <p>Join the line; you are let in in turn and get a held unit for a few minutes to check out.</p>
      <button type="button" onClick={() => join.mutate()} disabled={join.isPending}>
        {join.isPending ? 'Joining…' : 'Join the line'}
      </button>
    </>
  );
}

const FINAL = ['purchased', 'left', 'expired', 'closed'];

function PlaceView({ drop, token, onForget }: { drop: Drop; token: string; onForget: () => void }) {
  const queries = useQueryClient();
  const place = useQuery({
    queryKey: ['drop', drop.id, 'place', token],
    queryFn: () => unwrap(api.GET('/v1/drops/{id}/queue/{token}', { params: { path: { id: drop.id, token } } })),
    refetchInterval: (q) => (q.state.data && FINAL.includes(q.state.data.status) ? false : POLL_MS),
    // A busy server (429, 503) keeps the place: ask again after the wait it names, for as long as it takes.
    retry: (_count, error) => toProblem(error).transient,
    retryDelay: retryDelayMs,
  });
  const leave = useMutation({
    mutationFn: () => unwrap(api.DELETE('/v1/drops/{id}/queue/{token}', { params: { path: { id: drop.id, token } } })),
    onSuccess: (left) => queries.setQueryData(['drop', drop.id, 'place', token], left),
  });
  if (place.isPending) return <Loading what="your place" />;
  if (place.isError) {
    const p = toProblem(place.error);
    return (
      <>
        <ErrorBox error={p} />
        {(p.code === 'queue_token_expired' || p.code === 'queue_token_invalid') && (
          <button type="button" onClick={onForget}>
            Join again
          </button>
        )}
      </>
    );
  }
  return (
    <>
      {leave.error && <ErrorBox error={leave.error} />}
      <PlaceStatus drop={drop} place={place.data} />
      {place.failureReason !== null && (
        <p className="meta" role="status">
          The line is busy right now; your place is kept and is checked again in a moment.
        </p>
      )}
      {(place.data.status === 'waiting' || place.data.status === 'admitted') && (
        <button type="button" className="link" onClick={() => leave.mutate()} disabled={leave.isPending}>
          Leave the line
        </button>
      )}
    </>
  );
}

function eta(seconds: number): string {
  if (seconds < 60) return `about ${new Intl.NumberFormat(navigator.language || 'en-US', { style: 'unit', unit: 'second', unitDisplay: 'long' }).format(Math.max(1, seconds))}`;
  return `about ${new Intl.NumberFormat(navigator.language || 'en-US', { style: 'unit', unit: 'minute', unitDisplay: 'long' }).format(Math.ceil(seconds / 60))}`;
}

function PlaceStatus({ drop, place }: { drop: Drop; place: Place }) {
  switch (place.status) {
    case 'waiting':
      return (
        <div role="status" aria-live="polite">
          <p>
            {place.position === null ? 'You are in line; places of early arrivals are shuffled at the opening.' : `You are number ${place.position} in line.`} {place.ahead} ahead of you; estimated wait{' '}
            {eta(place.eta_seconds)}.
          </p>
          <p className="meta">Keep this page open; it updates by itself.</p>
        </div>
      );
    case 'admitted':
      return <Admitted drop={drop} place={place} />;
    case 'purchased':
      return <p role="status">You bought your unit. Thank you!</p>;
    case 'left':
      return <p role="status">You left the line.</p>;
    case 'expired':
      return <p role="status">Your hold ran out before you checked out; the unit went to the next shopper.</p>;
    case 'closed':
      return <p role="status">The drop is sold out or has ended.</p>;
  }
}

function Admitted({ drop, place }: { drop: Drop; place: Place }) {
  const queries = useQueryClient();
  const [address, setAddress] = useState(EMPTY_ADDRESS);
  const [card, setCard] = useState<string>(TEST_CARDS[0].value);
  const cartId = place.cart_id ?? '';
  const cart = useQuery({ queryKey: ['cart', cartId], enabled: cartId !== '', queryFn: () => unwrap(api.GET('/v1/carts/{cart_id}', { params: { path: { cart_id: cartId } } })) });
  const checkout = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/v1/checkout', {
          params: { header: { 'idempotency-key': crypto.randomUUID() } },
          body: { cart_id: cartId, shipping_address: address, payment_method: card },
        }),
      ),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['drop', drop.id] }),
  });
  if (checkout.isSuccess)
    return (
      <p role="status">
        Paid! Order {checkout.data.id.slice(0, 8)} for {money(checkout.data.total_cents, checkout.data.currency)}.
      </p>
    );
  const problem = checkout.error ? toProblem(checkout.error) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    checkout.mutate();
  };
  return (
    <>
      <p role="status">
        <strong>It is your turn.</strong> One unit is held for you at {money(drop.price_cents, drop.currency)}
        {cart.data ? ` (total before tax ${money(cart.data.subtotal_cents, cart.data.currency)})` : ''}.
      </p>
      {place.admitted_until && <Countdown until={place.admitted_until} label="Hold ends in" endedText="Your hold has ended." />}
      <form onSubmit={submit} noValidate aria-label="Check out">
        {problem && <ErrorBox error={problem} />}
        <AddressFields value={address} onChange={setAddress} problem={problem} />
        <SelectField label="Card (test cards)" value={card} onChange={setCard} options={[...TEST_CARDS]} error={problem?.field('payment_method')} />
        <button type="submit" disabled={checkout.isPending}>
          {checkout.isPending ? 'Paying…' : 'Check out'}
        </button>
      </form>
    </>
  );
}
