import { Link } from 'react-router-dom';
import { useUser } from '../../api/useSession';
import { QueryView } from '../../components/QueryView';
import { dateTime, money, words } from '../../lib/format';
import { useTitle } from '../../lib/useTitle';
import { SignInPrompt } from '../backer/SignInPrompt';
import { InvoiceTable } from './InvoiceTable';
import { PayoutAccountPanel } from './PayoutAccountPanel';
import { isSeller, useMyBalance, useMyFees, useMyPayouts, type Balance, type Payout } from './moneyApi';
import { TableScroll } from '../../components/TableScroll';

/** A seller's money: balance per currency, payouts, the platform's fee invoices and the payout account. */
export function SellerMoneyPage() {
  useTitle('My money');
  const user = useUser();
  const seller = isSeller(user);
  if (!user) return <SignInPrompt what="your balance and payouts" />;
  if (!seller)
    return (
      <section className="narrow">
        <h1>My money</h1>
        <p>This page is for creators, merchants and providers: the money their sales earn. Your receipts are in <Link to="/me/invoices">My invoices</Link>.</p>
      </section>
    );
  return (
    <section aria-labelledby="money-title">
      <h1 id="money-title">My money</h1>
      <div className="columns">
        <div>
          <BalancePanel />
          <PayoutsPanel />
          <FeesPanel />
        </div>
        <aside>
          <PayoutAccountPanel />
        </aside>
      </div>
    </section>
  );
}

function BalancePanel() {
  const balance = useMyBalance(true);
  return (
    <section className="panel" aria-labelledby="balance-title">
      <h2 id="balance-title">Balance</h2>
      <QueryView query={balance} what="your balance" empty="Nothing earned yet: sales, collected pledges and completed bookings show here.">
        {(data) => data.data.map((b) => <CurrencyBalance key={b.currency} balance={b} />)}
      </QueryView>
    </section>
  );
}

function CurrencyBalance({ balance: b }: { balance: Balance['data'][number] }) {
  return (
    <dl className="facts" aria-label={`Balance in ${b.currency}`}>
      <dt>Pending</dt>
      <dd data-testid={`pending-${b.currency}`}>{money(b.pending_cents, b.currency)}</dd>
      <dt>Available</dt>
      <dd data-testid={`available-${b.currency}`}>{money(b.available_cents, b.currency)}</dd>
      <dt>Paid out</dt>
      <dd data-testid={`paid-out-${b.currency}`}>{money(b.paid_out_cents, b.currency)}</dd>
    </dl>
  );
}

function PayoutsPanel() {
  const payouts = useMyPayouts(true);
  return (
    <section className="panel" aria-labelledby="payouts-title">
      <h2 id="payouts-title">Payouts</h2>
      <QueryView query={payouts} what="your payouts" empty="No payouts yet: available money is paid out to your payout account on the payout schedule.">
        {(data) => (
          <TableScroll label="Payouts table">
            <table>
              <thead>
                <tr>
                  <th scope="col">Amount</th>
                  <th scope="col">Status</th>
                  <th scope="col">Arrival</th>
                </tr>
              </thead>
              <tbody>
                {data.data.map((p) => (
                  <PayoutRow key={p.id} payout={p} />
                ))}
              </tbody>
            </table>
          </TableScroll>
        )}
      </QueryView>
    </section>
  );
}

function PayoutRow({ payout: p }: { payout: Payout }) {
  return (
    <tr>
      <td>{money(p.amount_cents, p.currency)}</td>
      <td>
        <span className={`status status-${p.status}`}>{words(p.status)}</span>
        {p.failure_code && <span className="meta"> ({words(p.failure_code)}; the money is back in your available balance)</span>}
      </td>
      <td>{p.arrival_at ? <time dateTime={p.arrival_at}>{dateTime(p.arrival_at)}</time> : p.status === 'scheduled' ? 'On its way' : '—'}</td>
    </tr>
  );
}

function FeesPanel() {
  const fees = useMyFees(true);
  const draft = fees.data?.data.find((f) => f.status === 'draft');
  return (
    <section className="panel" aria-labelledby="fees-title">
      <h2 id="fees-title">Platform fee invoices</h2>
      <p className="hint">One per month. The current month’s is a draft that grows with each charge until the month closes.</p>
      <QueryView query={fees} what="your fee invoices" empty="No platform fees yet.">
        {(data) => (
          <>
            {draft && (
              <p data-testid="fee-draft">
                This month so far: <strong>{money(draft.total_cents, draft.currency)}</strong>
              </p>
            )}
            <InvoiceTable invoices={data.data} caption="Platform fee invoices, newest first" party="issuer" />
          </>
        )}
      </QueryView>
    </section>
  );
}
