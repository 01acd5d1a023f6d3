import { useState, type FormEvent } from 'react';
import { QueryView } from '../../components/QueryView';
import { dateTime } from '../../lib/format';
import { useUserSearch } from './operatorApi';

/** Accounts newest first, or those whose email or name contains the search. */
export function UserSearch() {
  const [typed, setTyped] = useState('');
  const [q, setQ] = useState('');
  const users = useUserSearch(q);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setQ(typed.trim());
  };
  return (
    <section className="panel" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <form role="search" onSubmit={submit} aria-label="Users">
        <label htmlFor="user-search">Search by email or name</label>
        <input id="user-search" type="search" value={typed} onChange={(e) => setTyped(e.target.value)} maxLength={200} />
        <button type="submit">Search users</button>
      </form>
      <QueryView query={users} what="users" empty="No account matches “{q}”.">
        {(data) => (
          <ul className="inbox" aria-live="polite">
            {data.data.map((u) => (
              <li key={u.id}>
                <strong>{u.name}</strong> <span className="tag">{u.role}</span>
                <p className="meta">
                  {u.email}
                  {u.email_verified ? '' : ' (not verified)'} · joined <time dateTime={u.created_at}>{dateTime(u.created_at)}</time>
                </p>
              </li>
            ))}
          </ul>
        )}
      </QueryView>
    </section>
  );
}
