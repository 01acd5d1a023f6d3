import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../api/client';
import { useCampaign, type Campaign } from '../api/campaigns';
import { useCampaignEvents } from '../api/useCampaignEvents';
import { useUser } from '../api/useSession';
import { ProgressBar } from '../components/ProgressBar';
import { ErrorBox, Loading } from '../components/states';
import { dateTime, money, timeLeft, words } from '../lib/format';
import { unwrap } from '../lib/problem';
import { useTitle } from '../lib/useTitle';
import { PledgeForm } from './PledgeForm';

export function CampaignPage() {
  const { id = '' } = useParams();
  const campaign = useCampaign(id);
  useTitle(campaign.data?.title ?? 'Campaign');
  useCampaignEvents(id, campaign.data !== undefined && campaign.data.status !== 'draft');

  if (campaign.isPending) return <Loading what="the campaign" />;
  if (campaign.isError)
    return (
      <>
        <h1>Campaign</h1>
        <ErrorBox error={campaign.error} retry={() => void campaign.refetch()} />
      </>
    );
  return <CampaignView campaign={campaign.data} />;
}

/** Seconds to the deadline, recounted every half minute so "time left" stays true on an open page. */
function useSecondsLeft(endsAt: string): number {
  const left = () => Math.max(0, Math.floor((Date.parse(endsAt) - Date.now()) / 1000));
  const [seconds, setSeconds] = useState(left);
  useEffect(() => {
    const timer = setInterval(() => setSeconds(left()), 30_000);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [endsAt]);
  return seconds;
}

function CampaignView({ campaign }: { campaign: Campaign }) {
  const user = useUser();
  const secondsLeft = useSecondsLeft(campaign.ends_at);
  const isOwner = user?.id === campaign.owner_id;
  return (
    <article className="campaign">
      <header>
        <p className="meta">
          <span className="tag">{words(campaign.category)}</span> <span className={`status status-${campaign.status}`}>{words(campaign.status)}</span> ·{' '}
          {campaign.funding_model === 'flexible' ? 'Flexible funding: every pledge is collected' : 'All or nothing: cards are charged only if the goal is met'}
        </p>
        <h1>{campaign.title}</h1>
      </header>
      <div className="columns">
        <div>
          <section aria-labelledby="story">
            <h2 id="story">Story</h2>
            {campaign.description ? <p className="story">{campaign.description}</p> : <p className="empty">The creator has not written a story yet.</p>}
          </section>
          <section aria-labelledby="rewards">
            <h2 id="rewards">Rewards</h2>
            {campaign.reward_tiers.length === 0 ? (
              <p className="empty">No reward tiers: pledge any amount to support the campaign.</p>
            ) : (
              <ul className="tiers">
                {campaign.reward_tiers.map((t) => (
                  <li key={t.id} className={t.remaining === 0 ? 'sold-out' : ''}>
                    <h3>{t.title}</h3>
                    <p className="meta">
                      Pledge {money(t.min_amount_cents, campaign.currency)} or more ·{' '}
                      {t.remaining === null ? 'unlimited' : t.remaining === 0 ? 'sold out' : `${t.remaining} of ${t.quantity} left`}
                    </p>
                    {t.description && <p>{t.description}</p>}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </div>
        <aside aria-label="Funding">
          <div aria-live="polite">
            <ProgressBar pledged={campaign.pledged_cents} goal={campaign.goal_cents} currency={campaign.currency} label="Funding progress" />
            <dl className="facts">
              <dt>Backers</dt>
              <dd data-testid="backers">{campaign.backer_count}</dd>
              <dt>Goal</dt>
              <dd>{money(campaign.goal_cents, campaign.currency)}</dd>
              <dt>Time left</dt>
              <dd>
                {campaign.status === 'live' || campaign.status === 'scheduled' ? timeLeft(secondsLeft) : words(campaign.status)} <small>(ends {dateTime(campaign.ends_at)})</small>
              </dd>
            </dl>
          </div>
          {isOwner ? <OwnerPanel campaign={campaign} /> : <PledgeForm campaign={campaign} />}
        </aside>
      </div>
    </article>
  );
}

function OwnerPanel({ campaign }: { campaign: Campaign }) {
  const queries = useQueryClient();
  const launch = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/campaigns/{id}/launch', { params: { path: { id: campaign.id } } })),
    onSuccess: (updated) => queries.setQueryData(['campaign', campaign.id], updated),
  });
  return (
    <section className="panel" aria-labelledby="owner">
      <h2 id="owner">Your campaign</h2>
      {campaign.status === 'draft' ? (
        <>
          <p>This campaign is a draft: only you can see it. Launch it to open pledges{campaign.starts_at ? ` on ${dateTime(campaign.starts_at)}` : ''}.</p>
          {launch.error && <ErrorBox error={launch.error} />}
          <button type="button" onClick={() => launch.mutate()} disabled={launch.isPending}>
            {launch.isPending ? 'Launching…' : 'Launch campaign'}
          </button>
        </>
      ) : (
        <p role="status">
          Launched{campaign.launched_at ? ` ${dateTime(campaign.launched_at)}` : ''}: it is {words(campaign.status)}. <Link to={`/creator/campaigns/${campaign.id}`}>Open the dashboard</Link> or <Link to="/campaigns/new">Start another campaign</Link>.
        </p>
      )}
    </section>
  );
}
