import { Link } from 'react-router-dom';
import { useMarkRead, useNotifications, type Notification } from '../../api/notifications';
import { useUser } from '../../api/useSession';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { dateTime, money } from '../../lib/format';
import { useTitle } from '../../lib/useTitle';
import { SignInPrompt } from './SignInPrompt';

/** Where a notification's data points: the pledge's campaign for a backer, the dashboard for a creator. */
function linkFor(n: Notification): { to: string; label: string } | undefined {
  const campaignId = typeof n.data.campaign_id === 'string' ? n.data.campaign_id : undefined;
  if (!campaignId) return undefined;
  if (n.type === 'pledge_received') return { to: `/creator/campaigns/${campaignId}`, label: 'Open the dashboard' };
  if (typeof n.data.pledge_id === 'string') return { to: '/me/pledges', label: 'See my pledges' };
  return { to: `/campaigns/${campaignId}`, label: 'See the campaign' };
}

/** The body in words; a new pledge's amount (sent in minor units) as money in the reader's locale. */
function bodyOf(n: Notification): string {
  const { amount_cents: cents, currency } = n.data;
  if (n.type === 'pledge_received' && typeof cents === 'number' && typeof currency === 'string') return `A backer pledged ${money(cents, currency)}.`;
  return n.body;
}

export function NotificationsPage() {
  useTitle('Notifications');
  const user = useUser();
  const list = useNotifications(user !== undefined);
  const markRead = useMarkRead();

  if (!user) return <SignInPrompt what="your notifications" />;
  return (
    <section aria-labelledby="notifications-title">
      <h1 id="notifications-title">Notifications</h1>
      <p className="hint">New notifications appear here as they happen; no need to reload.</p>
      {markRead.error && <ErrorBox error={markRead.error} />}
      {list.isPending ? (
        <Loading what="notifications" />
      ) : list.isError ? (
        <ErrorBox error={list.error} retry={() => void list.refetch()} />
      ) : list.data.data.length === 0 ? (
        <Empty>No notifications yet. Pledges, payments and campaign results will show up here.</Empty>
      ) : (
        <ul className="inbox" aria-live="polite" aria-relevant="additions">
          {list.data.data.map((n) => {
            const link = linkFor(n);
            return (
              <li key={n.id} className={n.read_at ? 'read' : 'unread'} aria-label={`${n.read_at ? '' : 'Unread: '}${n.title}`}>
                <h2>{n.title}</h2>
                {bodyOf(n) && <p>{bodyOf(n)}</p>}
                <p className="meta">
                  <time dateTime={n.created_at}>{dateTime(n.created_at)}</time>
                  {n.read_at ? ' · read' : ' · unread'}
                </p>
                <div className="row">
                  {link && <Link to={link.to}>{link.label}</Link>}
                  {!n.read_at && (
                    <button type="button" className="secondary" aria-label={`Mark as read: ${n.title}`} onClick={() => markRead.mutate(n.id)} disabled={markRead.isPending && markRead.variables === n.id}>
                      Mark as read
                    </button>
                  )}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
