import { NavLink } from 'react-router-dom';
import { useNotificationStream, useUnreadCount } from '../api/notifications';
import type { User } from '../api/client';

/**
 * The nav's link to the inbox with the unread count. It also keeps the session's notification stream open,
 * and announces a change of the count politely to screen readers.
 */
export function NotificationsLink({ user }: { user: User }) {
  useNotificationStream(user.id);
  const unread = useUnreadCount(true);
  const count = unread.data?.count ?? 0;
  const said = count === 0 ? 'no unread notifications' : `${count}${unread.data?.more ? ' or more' : ''} unread notification${count === 1 ? '' : 's'}`;
  return (
    <>
      {/* The name is the visible text plus hidden words ("Notifications 2 unread"), so speech matches the screen. */}
      <NavLink to="/notifications">
        Notifications{' '}
        {count > 0 ? (
          <>
            <span className="badge">{unread.data?.more ? `${count}+` : count}</span>
            <span className="visually-hidden"> unread</span>
          </>
        ) : (
          <span className="visually-hidden">(none unread)</span>
        )}
      </NavLink>
      <span className="visually-hidden" role="status" aria-live="polite">
        {unread.isSuccess ? `You have ${said}.` : ''}
      </span>
    </>
  );
}
