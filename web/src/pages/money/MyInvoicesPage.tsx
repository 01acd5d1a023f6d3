import { Link } from 'react-router-dom';
import { useUser } from '../../api/useSession';
import { QueryView } from '../../components/QueryView';
import { useTitle } from '../../lib/useTitle';
import { SignInPrompt } from '../backer/SignInPrompt';
import { InvoiceTable } from './InvoiceTable';
import { useMyInvoices } from './moneyApi';

/** The signed-in user's receipts as buyer (pledges collected, orders, bookings), newest first. */
export function MyInvoicesPage() {
  useTitle('My invoices');
  const user = useUser();
  const invoices = useMyInvoices(user !== undefined);
  if (!user) return <SignInPrompt what="your invoices" />;
  return (
    <section aria-labelledby="invoices-title">
      <h1 id="invoices-title">My invoices</h1>
      <p className="lead">Receipts for what you paid: collected pledges, orders and bookings.</p>
      <QueryView
        query={invoices}
        what="your invoices"
        empty={
          <>
            No receipts yet. They appear here once a pledge is collected or an order is paid. <Link to="/campaigns">Discover campaigns</Link>.
          </>
        }
      >
        {(data) => <InvoiceTable invoices={data.data} caption="Your receipts, newest first" party="issuer" />}
      </QueryView>
    </section>
  );
}

