import { Link, useLocation } from 'react-router-dom';
import { session } from '../../api/client';
import { Loading } from '../../components/states';

/** A page for signed-in people: while a stored session is being restored, say so; otherwise ask to sign in. */
export function SignInPrompt({ what }: { what: string }) {
  const location = useLocation();
  if (session.hasRefresh()) return <Loading what="your session" />;
  return (
    <section className="narrow">
      <h1>Sign in</h1>
      <p>
        <Link to={`/signin?next=${encodeURIComponent(location.pathname)}`}>Sign in</Link> to see {what}.
      </p>
    </section>
  );
}
