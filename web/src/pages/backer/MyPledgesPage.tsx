import { useState } from 'react';
import { Link } from 'react-router-dom';
import { api } from '../../api/client';
import { MY_PLEDGES_KEY, type MyPledge } from '../../api/pledges';
import { useUser } from '../../api/useSession';
import { LoadMore } from '../../components/LoadMore';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { dateTime, money, words } from '../../lib/format';
import { unwrap } from '../../lib/problem';
import { usePages } from '../../lib/usePages';
import { useTitle } from '../../lib/useTitle';
import { SignInPrompt } from './SignInPrompt';
import { PledgeActions } from './PledgeActions';

/** What a pledge's status means for the backer, in a sentence. */
const STATUS_WORDS: Partial<Record<MyPledge['status'], string>> = {
  active: 'Your card is saved or the amount held; it is charged only when the campaign ends.',
  pending: 'The payment provider is still deciding.',
  requires_action: 'Your bank asks you to confirm this payment (3-D Secure).',
  collected: 'Charged. Thank you for backing this campaign.',
  payment_failed: 'The charge failed. Update your card before the deadline below to keep your pledge.',
  dropped: 'The charge failed and the time to fix it has passed; the pledge was dropped.',
  cancelled: 'You cancelled this pledge; nothing was charged.',
  voided: 'The campaign did not go ahead; the hold on your card was released.',
  refunded: 'Refunded to your card.',
};

export function MyPledgesPage() {
  useTitle('My pledges');
  const user = useUser();
  const pledges = usePages(MY_PLEDGES_KEY, (cursor) => unwrap(api.GET('/v1/me/pledges', { params: { query: { limit: 25, cursor } } })), { enabled: user !== undefined });

  if (!user) return <SignInPrompt what="your pledges" />;
  return (
    <section aria-labelledby="pledges-title">
      <h1 id="pledges-title">My pledges</h1>
      {pledges.isPending ? (
        <Loading what="your pledges" />
      ) : pledges.isError ? (
        <ErrorBox error={pledges.error} retry={() => void pledges.refetch()} />
      ) : pledges.items.length === 0 ? (
        <Empty>
          You have not backed a campaign yet. <Link to="/campaigns">Discover campaigns</Link>.
        </Empty>
      ) : (
        <>
          <ul className="pledges">
            {pledges.items.map((p) => (
              <PledgeItem key={p.id} pledge={p} />
            ))}
          </ul>
          <LoadMore list={pledges} what="pledges" />
        </>
      )}
    </section>
  );
}

function PledgeItem({ pledge }: { pledge: MyPledge }) {
  const [said, setSaid] = useState('');
  const headingId = `pledge-${pledge.id}`;
  return (
    <li className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>
        <Link to={`/campaigns/${pledge.campaign.id}`}>{pledge.campaign.title}</Link>
      </h2>
      <dl className="facts">
        <dt>Amount</dt>
        <dd data-testid="pledge-amount">{money(pledge.amount_cents, pledge.currency)}</dd>
        <dt>Status</dt>
        <dd>
          <span className={`status status-${pledge.status}`}>{words(pledge.status)}</span>
        </dd>
        <dt>Campaign ends</dt>
        <dd>
          <time dateTime={pledge.campaign.ends_at}>{dateTime(pledge.campaign.ends_at)}</time> ({words(pledge.campaign.status)})
        </dd>
        {pledge.drop_deadline && (
          <>
            <dt>Fix the card by</dt>
            <dd>
              <time dateTime={pledge.drop_deadline}>{dateTime(pledge.drop_deadline)}</time>
            </dd>
          </>
        )}
        <dt>Pledged</dt>
        <dd>
          <time dateTime={pledge.created_at}>{dateTime(pledge.created_at)}</time>
        </dd>
      </dl>
      {STATUS_WORDS[pledge.status] && <p>{STATUS_WORDS[pledge.status]}</p>}
      <p role="status" aria-live="polite" className="said">
        {said}
      </p>
      <PledgeActions pledge={pledge} onDone={setSaid} />
    </li>
  );
}
