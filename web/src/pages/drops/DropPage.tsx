import { useEffect, useState, type FormEvent } from 'react';
import { Link, useLocation, useParams } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useUser } from '../../api/useSession';
import { SelectField } from '../../components/Field';
import { ErrorBox, Loading } from '../../components/states';
import { dateTime, money } from '../../lib/format';
import { toProblem, unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { TEST_CARDS } from '../PledgeForm';
import { AddressFields, EMPTY_ADDRESS } from './AddressFields';
import { Countdown, useSecondsUntil } from './Countdown';
import { DROP_STATUS_WORDS, useDrop, useMyEntry, type Drop, type DropEntry } from './dropsApi';

/** A drop: what is sold and when, and for a lottery the caller's entry, result and claim. */
export function DropPage() {
  const { id = '' } = useParams();
  const drop = useDrop(id);
  useTitle(drop.data ? (drop.data.mode === 'lottery' ? 'Lottery drop' : 'First-come drop') : 'Drop');

  if (drop.isPending) return <Loading what="the drop" />;
  if (drop.isError)
    return (
      <>
        <h1>Drop</h1>
        <ErrorBox error={drop.error} retry={() => void drop.refetch()} />
      </>
    );
  return <DropView drop={drop.data} />;
}

function DropView({ drop }: { drop: Drop }) {
  const lottery = drop.mode === 'lottery';
  return (
    <article>
      <header>
        <p className="meta">
          <span className={`status status-${drop.status}`}>{DROP_STATUS_WORDS[drop.status]}</span> · {lottery ? 'Lottery: enter during registration, winners are drawn' : 'First come, first served through a waiting room'}
        </p>
        <h1>{lottery ? 'Lottery drop' : 'First-come drop'}</h1>
      </header>
      <div className="columns">
        <div>
          <dl className="facts">
            <dt>Price</dt>
            <dd>{money(drop.price_cents, drop.currency)}</dd>
            <dt>Units</dt>
            <dd>
              {drop.quantity} ({drop.remaining} left, {drop.sold} sold)
            </dd>
            {lottery && drop.entries_count !== undefined && (
              <>
                <dt>Entries</dt>
                <dd>{drop.entries_count}</dd>
              </>
            )}
            <dt>{lottery ? 'Registration opens' : 'Opens'}</dt>
            <dd>{dateTime(drop.opens_at)}</dd>
            {drop.closes_at && (
              <>
                <dt>{lottery ? 'Registration closes' : 'Closes'}</dt>
                <dd>{dateTime(drop.closes_at)}</dd>
              </>
            )}
            {lottery && (
              <>
                <dt>Claim window</dt>
                <dd>{Math.round(drop.claim_window_seconds / 60)} minutes for each winner</dd>
              </>
            )}
            {drop.drawn_at && (
              <>
                <dt>Drawn</dt>
                <dd>{dateTime(drop.drawn_at)}</dd>
              </>
            )}
          </dl>
          {lottery && <Fairness drop={drop} />}
        </div>
        <div>{lottery ? <LotteryPanel drop={drop} /> : <QueueLink drop={drop} />}</div>
      </div>
    </article>
  );
}

function Fairness({ drop }: { drop: Drop }) {
  return (
    <section className="panel" aria-labelledby="fairness">
      <h2 id="fairness">A draw you can check</h2>
      <p>
        The seed&apos;s commitment was published when the drop was created: <code className="hash">{drop.seed_commitment}</code>
      </p>
      {drop.entries_hash && (
        <p>
          Entries hash, published when registration closed: <code className="hash">{drop.entries_hash}</code>
        </p>
      )}
      {drop.drawn_at ? <Link to={`/drops/${drop.id}/verify`}>Verify this draw</Link> : <p className="meta">After the draw, you can recompute it in your browser.</p>}
    </section>
  );
}

function QueueLink({ drop }: { drop: Drop }) {
  return (
    <section className="panel" aria-labelledby="queue">
      <h2 id="queue">Waiting room</h2>
      {drop.status === 'sold_out' || drop.status === 'closed' ? <p>This drop has ended.</p> : <Link to={`/drops/${drop.id}/queue`}>Enter the waiting room</Link>}
    </section>
  );
}

function SignInPrompt({ what }: { what: string }) {
  const location = useLocation();
  const next = encodeURIComponent(location.pathname);
  return (
    <p>
      <Link to={`/signin?next=${next}`}>Sign in</Link> or <Link to={`/signup?next=${next}`}>create an account</Link> {what}.
    </p>
  );
}

/**
 * Says "your claim window has ended" in a live region that outlives the claim form: the entry refetched as
 * expired replaces the form at about the same moment, and a region inserted with its text is often not read.
 * Only when the window was seen open on this page (a later visit just shows the expired entry).
 */
function useClaimWindowEnded(entry: DropEntry | null | undefined): boolean {
  const secondsLeft = useSecondsUntil(entry?.claim_expires_at);
  const [sawOpen, setSawOpen] = useState(false);
  const open = entry?.status === 'won' && secondsLeft > 0;
  useEffect(() => {
    if (open) setSawOpen(true);
  }, [open]);
  return sawOpen && (entry?.status === 'expired' || (entry?.status === 'won' && secondsLeft === 0));
}

function LotteryPanel({ drop }: { drop: Drop }) {
  const user = useUser();
  const entry = useMyEntry(drop.id, user !== undefined);
  const windowEnded = useClaimWindowEnded(entry.data);
  let body;
  if (!user) body = <SignInPrompt what="to enter this lottery" />;
  else if (entry.isPending) body = <Loading what="your entry" />;
  else if (entry.isError) body = <ErrorBox error={entry.error} retry={() => void entry.refetch()} />;
  else if (entry.data === null) body = <EnterForm drop={drop} />;
  else body = <EntryResult drop={drop} entry={entry.data} />;
  return (
    <section className="panel" aria-labelledby="my-entry">
      <h2 id="my-entry">Your entry</h2>
      {body}
      <p role="status" aria-live="polite">
        {windowEnded ? 'Your claim window has ended.' : ''}
      </p>
    </section>
  );
}

function EnterForm({ drop }: { drop: Drop }) {
  const queries = useQueryClient();
  const [card, setCard] = useState<string>(TEST_CARDS[0].value);
  const untilOpen = useSecondsUntil(drop.opens_at);
  const untilClose = useSecondsUntil(drop.closes_at ?? undefined);
  const enter = useMutation({
    mutationFn: () =>
      unwrap(api.POST('/v1/drops/{id}/entries', { params: { path: { id: drop.id }, header: { 'idempotency-key': crypto.randomUUID() } }, body: { payment_method: card } })),
    onSuccess: (entry) => queries.setQueryData(['drop', drop.id, 'entry'], entry),
  });
  if (untilOpen > 0) return <Countdown until={drop.opens_at} label="Registration opens in" endedText="Registration is open." />;
  if (untilClose === 0 || !['scheduled', 'open'].includes(drop.status)) return <p>Registration has closed; you did not enter this drop.</p>;
  const problem = enter.error ? toProblem(enter.error) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    enter.mutate();
  };
  return (
    <form onSubmit={submit} noValidate>
      {drop.closes_at && <Countdown until={drop.closes_at} label="Registration closes in" endedText="Registration has closed." />}
      <p>Your card is saved now and charged only if you win and claim.</p>
      {problem && <ErrorBox error={problem} />}
      <SelectField label="Card (test cards)" value={card} onChange={setCard} options={[...TEST_CARDS]} error={problem?.field('payment_method')} />
      <button type="submit" disabled={enter.isPending}>
        {enter.isPending ? 'Entering…' : 'Enter the lottery'}
      </button>
    </form>
  );
}

function EntryResult({ drop, entry }: { drop: Drop; entry: DropEntry }) {
  const rank = entry.rank !== null ? ` Your place in the draw: ${entry.rank}.` : '';
  switch (entry.status) {
    case 'entered':
      return <p role="status">You are in. The draw runs when registration closes{drop.closes_at ? ` (${dateTime(drop.closes_at)})` : ''}.</p>;
    case 'won':
      return <ClaimForm drop={drop} entry={entry} />;
    case 'waitlisted':
      return (
        <p role="status">
          You are on the waitlist{entry.waitlist_position !== undefined ? `, number ${entry.waitlist_position}` : ''}. If a winner does not claim in time, the unit goes to the next in line.{rank}
        </p>
      );
    case 'claimed':
      // Also what the claim form turns into once the refetched entry says claimed (the form's own answer may be gone).
      return <p role="status">Claimed!{entry.order_id ? ` Order ${entry.order_id.slice(0, 8)} is yours.` : ''} Thank you!</p>;
    case 'expired':
      return <p role="status">Your claim window ended before you claimed; the unit went to the next in line.</p>;
    case 'lost':
      return <p role="status">Not this time: you were not drawn.{rank}</p>;
  }
}

const SAVED_CARD = '';

function ClaimForm({ drop, entry }: { drop: Drop; entry: DropEntry }) {
  const queries = useQueryClient();
  const [address, setAddress] = useState(EMPTY_ADDRESS);
  const [card, setCard] = useState(SAVED_CARD);
  const secondsLeft = useSecondsUntil(entry.claim_expires_at);
  const claim = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/v1/drops/{id}/claim', {
          params: { path: { id: drop.id }, header: { 'idempotency-key': crypto.randomUUID() } },
          body: { shipping_address: address, ...(card !== SAVED_CARD ? { payment_method: card } : {}) },
        }),
      ),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['drop', drop.id] }),
  });
  if (claim.isSuccess) {
    return (
      <p role="status">
        Claimed! Order {claim.data.id.slice(0, 8)} for {money(claim.data.total_cents, claim.data.currency)} is {claim.data.status}.
      </p>
    );
  }
  const problem = claim.error ? toProblem(claim.error) : undefined;
  const open = entry.claim_expires_at === undefined || secondsLeft > 0;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    claim.mutate();
  };
  return (
    <>
      <p>
        <strong>You won!</strong> Claim your unit for {money(drop.price_cents, drop.currency)} before the window closes{entry.claim_expires_at ? ` (${dateTime(entry.claim_expires_at)})` : ''}.
      </p>
      {entry.claim_expires_at && <Countdown until={entry.claim_expires_at} label="Time left to claim" />}
      {open && (
        <form onSubmit={submit} noValidate aria-label="Claim your unit">
          {problem && <ErrorBox error={problem} />}
          <AddressFields value={address} onChange={setAddress} problem={problem} />
          <SelectField
            label="Card"
            value={card}
            onChange={setCard}
            options={[{ value: SAVED_CARD, label: `The card saved with your entry (${entry.payment_method})` }, ...TEST_CARDS]}
            error={problem?.field('payment_method')}
          />
          <button type="submit" disabled={claim.isPending}>
            {claim.isPending ? 'Claiming…' : 'Claim and pay'}
          </button>
        </form>
      )}
    </>
  );
}
