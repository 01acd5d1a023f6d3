import { Link } from 'react-router-dom';
import { useQuery } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useUser } from '../../api/useSession';
import { ProgressBar } from '../../components/ProgressBar';
import { QueryView } from '../../components/QueryView';
import { dateTime, words } from '../../lib/format';
import { unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { SignInPrompt } from '../backer/SignInPrompt';

/** A creator's own campaigns in every status, drafts included, newest first, each linked to its dashboard. */
export function MyCampaignsPage() {
  useTitle('My campaigns');
  const user = useUser();
  const creator = user?.role === 'creator' || user?.role === 'operator';
  const campaigns = useQuery({
    queryKey: ['me', 'campaigns'],
    enabled: creator,
    queryFn: () => unwrap(api.GET('/v1/me/campaigns', { params: { query: { limit: 100 } } })),
  });
  if (!user) return <SignInPrompt what="your campaigns" />;
  if (!creator)
    return (
      <section className="narrow">
        <h1>My campaigns</h1>
        <p>Campaigns are started by creator accounts. Your pledges are in <Link to="/me/pledges">My pledges</Link>.</p>
      </section>
    );
  return (
    <section aria-labelledby="my-campaigns-title">
      <h1 id="my-campaigns-title">My campaigns</h1>
      <p>
        <Link to="/campaigns/new">Start a campaign</Link>
      </p>
      <QueryView
        query={campaigns}
        what="your campaigns"
        empty={
          <>
            No campaigns yet. <Link to="/campaigns/new">Start your first one</Link>.
          </>
        }
      >
        {(data) => (
          <ul className="pledges">
            {data.data.map((c) => (
              <li key={c.id} className="panel">
                <div>
                  <h2 className="card-title">
                    <Link to={`/creator/campaigns/${c.id}`}>{c.title}</Link>
                  </h2>
                  <p className="meta">
                    <span className={`status status-${c.status}`}>{words(c.status)}</span> · {c.status === 'draft' ? 'not launched' : `ends ${dateTime(c.ends_at)}`} ·{' '}
                    {c.backer_count} backer{c.backer_count === 1 ? '' : 's'}
                  </p>
                  <ProgressBar pledged={c.pledged_cents} goal={c.goal_cents} currency={c.currency} label={`Funding progress of ${c.title}`} />
                </div>
              </li>
            ))}
          </ul>
        )}
      </QueryView>
    </section>
  );
}
