import { Link } from 'react-router-dom';
import { useTitle } from '../lib/useTitle';

export function NotFoundPage() {
  useTitle('Page not found');
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link to="/">Go home</Link> or <Link to="/campaigns">discover campaigns</Link>.
      </p>
    </section>
  );
}
