import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { useUser } from '../../api/useSession';
import { SignInPrompt } from '../backer/SignInPrompt';

/** The merchant pages are for merchants and operators: others are asked to sign in, or told which account sells. */
export function MerchantGate({ what, children }: { what: string; children: ReactNode }) {
  const user = useUser();
  if (!user) return <SignInPrompt what={what} />;
  if (user.role !== 'merchant' && user.role !== 'operator') {
    return (
      <section className="narrow">
        <h1>Stores are run from a merchant account</h1>
        <p>
          You are signed in as a {user.role}. <Link to="/signup">Create a merchant account</Link> to open a store.
        </p>
      </section>
    );
  }
  return <>{children}</>;
}
