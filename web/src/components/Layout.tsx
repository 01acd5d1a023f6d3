import { useEffect, useRef } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router-dom';
import { useQueryClient } from '@tanstack/react-query';
import { api, session } from '../api/client';
import { useUser } from '../api/useSession';
import { NotificationsLink } from './NotificationsLink';
import { isSeller } from '../pages/money/moneyApi';

/** Header with navigation and the session, a skip link, and focus moved to the page on navigation. */
export function Layout() {
  const user = useUser();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    main.current?.focus({ preventScroll: true });
  }, [location.pathname]);

  const signOut = async () => {
    // The server ends the session; the browser forgets it whatever the answer (an expired token ends nothing).
    await api.POST('/v1/auth/logout').catch(() => undefined);
    session.clear();
    queries.clear();
    navigate('/');
  };

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/" className="brand">
          Pledgeflow
        </Link>
        <nav aria-label="Main">
          <NavLink to="/" end>
            Home
          </NavLink>
          <NavLink to="/campaigns">Discover</NavLink>
          <NavLink to="/stores">Stores</NavLink>
          <NavLink to="/services">Services</NavLink>
          {user && <NotificationsLink user={user} />}
        </nav>
        <div className="account">
          {user ? (
            <>
              <span className="who">
                Signed in as <strong>{user.name}</strong>
              </span>
              <button type="button" onClick={() => void signOut()}>
                Sign out
              </button>
            </>
          ) : (
            <>
              <NavLink to="/signin">Sign in</NavLink>
              <NavLink to="/signup" className="button">
                Sign up
              </NavLink>
            </>
          )}
        </div>
      </header>
      {user && (
        // One's own pages in a row of their own, by what the account does: the main row stays the same for everyone.
        <nav aria-label="Your pages" className="your-pages">
          {(user.role === 'creator' || user.role === 'operator') && <NavLink to="/campaigns/new">Start a campaign</NavLink>}
          {user.role === 'creator' && (
            <NavLink to="/creator/campaigns" end>
              My campaigns
            </NavLink>
          )}
          {(user.role === 'merchant' || user.role === 'operator') && <NavLink to="/merchant/stores">My stores</NavLink>}
          {user.role === 'provider' && <NavLink to="/provider">Provider</NavLink>}
          {user.role === 'operator' && <NavLink to="/operator">Operator</NavLink>}
          <NavLink to="/me/pledges">My pledges</NavLink>
          <NavLink to="/orders">My orders</NavLink>
          <NavLink to="/me/bookings">My bookings</NavLink>
          <NavLink to="/me/invoices">My invoices</NavLink>
          {isSeller(user) && <NavLink to="/me/money">My money</NavLink>}
        </nav>
      )}
      <main id="main" ref={main} tabIndex={-1}>
        <Outlet />
      </main>
      <footer className="foot">
        <p>
          Pledgeflow · <a href="/docs">API docs</a>
        </p>
      </footer>
    </>
  );
}
