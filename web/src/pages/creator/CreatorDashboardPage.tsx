import { useEffect, useRef, useState } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router-dom';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useCampaign, type Campaign } from '../../api/campaigns';
import { useCampaignEvents } from '../../api/useCampaignEvents';
import { campaignPledgesKey } from '../../api/pledges';
import { useUser } from '../../api/useSession';
import { ProgressBar } from '../../components/ProgressBar';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { dateTime, money, timeLeft, words } from '../../lib/format';
import { unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { SignInPrompt } from '../backer/SignInPrompt';
import { CampaignControls } from './CampaignControls';
import { TableScroll } from '../../components/TableScroll';

/** The creator's view of one campaign: live totals, its pledges, and the deadline and cancel controls. */
export function CreatorDashboardPage() {
  const { id = '' } = useParams();
  const user = useUser();
  const campaign = useCampaign(id);
  useTitle(campaign.data ? `Dashboard: ${campaign.data.title}` : 'Campaign dashboard');
  const live = campaign.data?.status === 'live' || campaign.data?.status === 'scheduled';
  useCampaignEvents(id, live);

  if (!user) return <SignInPrompt what="this campaign's dashboard" />;
  if (campaign.isPending) return <Loading what="the campaign" />;
  if (campaign.isError) return <ErrorBox error={campaign.error} retry={() => void campaign.refetch()} />;
  const c = campaign.data;
  return (
    <article aria-labelledby="dashboard-title">
      <p className="meta">
        <Link to={`/campaigns/${c.id}`}>Public page</Link>
      </p>
      <h1 id="dashboard-title">Dashboard: {c.title}</h1>
      <WebhookSecretOnce />
      <div className="columns">
        <div>
          <Totals campaign={c} />
          <Pledges campaign={c} />
        </div>
        <aside>
          <CampaignControls campaign={c} />
        </aside>
      </div>
    </article>
  );
}

/** The webhook secret exists only in the create response: the create page hands it over in the navigation state, once. */
function WebhookSecretOnce() {
  const location = useLocation();
  const navigate = useNavigate();
  const [secret] = useState(() => (location.state as { webhookSecret?: unknown } | null)?.webhookSecret);
  // Kept in this view only: dropped from the history entry, so a reload or Back does not show it again.
  useEffect(() => {
    if (typeof secret === 'string') void navigate(location.pathname, { replace: true, state: null });
  }, [secret, navigate, location.pathname]);
  if (typeof secret !== 'string') return null;
  return (
    <section className="notice" aria-labelledby="secret-title">
      <h2 id="secret-title">Your webhook secret</h2>
      <p>
        Copy it now: it is shown only this once. Your endpoint checks each event's HMAC signature with it.
      </p>
      <p>
        <code data-testid="webhook-secret">{secret}</code>
      </p>
    </section>
  );
}

function Totals({ campaign }: { campaign: Campaign }) {
  return (
    <section className="panel" aria-labelledby="totals-title">
      <h2 id="totals-title">Totals</h2>
      <ProgressBar pledged={campaign.pledged_cents} goal={campaign.goal_cents} currency={campaign.currency} label="Funding progress" />
      <p className="visually-hidden" role="status" aria-live="polite">
        {money(campaign.pledged_cents, campaign.currency)} pledged by {campaign.backer_count} backer{campaign.backer_count === 1 ? '' : 's'}.
      </p>
      <dl className="facts">
        <dt>Pledged</dt>
        <dd data-testid="dashboard-pledged">{money(campaign.pledged_cents, campaign.currency)}</dd>
        <dt>Backers</dt>
        <dd data-testid="dashboard-backers">{campaign.backer_count}</dd>
        <dt>Goal</dt>
        <dd>
          {money(campaign.goal_cents, campaign.currency)} ({words(campaign.funding_model)})
        </dd>
        <dt>Status</dt>
        <dd>{words(campaign.status)}</dd>
        <dt>Deadline</dt>
        <dd>
          <time dateTime={campaign.ends_at}>{dateTime(campaign.ends_at)}</time>
          {campaign.status === 'live' && ` (${timeLeft(campaign.seconds_left)})`}
        </dd>
        {campaign.collected_cents > 0 && (
          <>
            <dt>Collected</dt>
            <dd>{money(campaign.collected_cents, campaign.currency)}</dd>
          </>
        )}
      </dl>
    </section>
  );
}

function Pledges({ campaign }: { campaign: Campaign }) {
  const queries = useQueryClient();
  const pledges = useQuery({
    queryKey: campaignPledgesKey(campaign.id),
    queryFn: () => unwrap(api.GET('/v1/campaigns/{id}/pledges', { params: { path: { id: campaign.id }, query: { limit: 100 } } })),
  });
  // The event stream moves the totals; the list follows whenever they change (not on mount: it just loaded).
  const seen = useRef(`${campaign.pledged_cents}/${campaign.backer_count}`);
  useEffect(() => {
    const now = `${campaign.pledged_cents}/${campaign.backer_count}`;
    if (seen.current === now) return;
    seen.current = now;
    void queries.invalidateQueries({ queryKey: campaignPledgesKey(campaign.id) });
  }, [queries, campaign.id, campaign.pledged_cents, campaign.backer_count]);

  const tiers = new Map(campaign.reward_tiers.map((t) => [t.id, t]));
  return (
    <section className="panel" aria-labelledby="pledges-title">
      <h2 id="pledges-title">Pledges</h2>
      {pledges.isPending ? (
        <Loading what="pledges" />
      ) : pledges.isError ? (
        <ErrorBox error={pledges.error} retry={() => void pledges.refetch()} />
      ) : pledges.data.data.length === 0 ? (
        <Empty>No pledges yet. New ones appear here as they come in.</Empty>
      ) : (
        <TableScroll label="Pledges table">
          <table>
            <caption className="visually-hidden">Pledges, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Backer</th>
                <th scope="col">Amount</th>
                <th scope="col">Reward</th>
                <th scope="col">Status</th>
                <th scope="col">Pledged</th>
              </tr>
            </thead>
            <tbody>
              {pledges.data.data.map((p) => (
                <tr key={p.id}>
                  <td>{p.backer.name}</td>
                  <td className="num">{money(p.amount_cents, p.currency)}</td>
                  <td>{p.reward_tier ? (tiers.get(p.reward_tier.id)?.title ?? p.reward_tier.title) : '—'}</td>
                  <td>{words(p.status)}</td>
                  <td>
                    <time dateTime={p.created_at}>{dateTime(p.created_at)}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </section>
  );
}
