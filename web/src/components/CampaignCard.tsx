import { Link } from 'react-router-dom';
import type { Schemas } from '../api/client';
import { timeLeft, words } from '../lib/format';
import { ProgressBar } from './ProgressBar';

export type Campaign = Schemas['Campaign'];

export function CampaignCard({ campaign }: { campaign: Campaign }) {
  return (
    <li className="card">
      <h3>
        <Link to={`/campaigns/${campaign.id}`}>{campaign.title}</Link>
      </h3>
      <p className="meta">
        <span className="tag">{words(campaign.category)}</span> <span className={`status status-${campaign.status}`}>{words(campaign.status)}</span> ·{' '}
        {campaign.status === 'live' ? timeLeft(campaign.seconds_left) : `${campaign.backer_count} backers`}
      </p>
      <ProgressBar pledged={campaign.pledged_cents} goal={campaign.goal_cents} currency={campaign.currency} label={`${campaign.title}: funding`} />
    </li>
  );
}

export function CampaignGrid({ campaigns }: { campaigns: Campaign[] }) {
  return (
    <ul className="grid">
      {campaigns.map((c) => (
        <CampaignCard key={c.id} campaign={c} />
      ))}
    </ul>
  );
}
