import { useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useUser } from '../../api/useSession';
import { ErrorBox, Loading } from '../../components/states';
import { dateTime, money, words } from '../../lib/format';
import { useTitle } from '../../lib/useTitle';
import { SignInPrompt } from '../backer/SignInPrompt';
import { downloadInvoicePdf, useInvoice, type Invoice } from './moneyApi';
import { TableScroll } from '../../components/TableScroll';

/** One invoice: issuer and customer, its lines with tax, the totals, its credit notes, and the PDF. */
export function InvoicePage() {
  const { id = '' } = useParams();
  const user = useUser();
  const invoice = useInvoice(id, user !== undefined);
  useTitle(invoice.data?.number ? `Invoice ${invoice.data.number}` : 'Invoice');
  if (!user) return <SignInPrompt what="this invoice" />;
  if (invoice.isPending) return <Loading what="the invoice" />;
  if (invoice.isError) return <ErrorBox error={invoice.error} retry={() => void invoice.refetch()} />;
  return <InvoiceView invoice={invoice.data} />;
}

function InvoiceView({ invoice }: { invoice: Invoice }) {
  const cur = invoice.currency;
  return (
    <article aria-labelledby="invoice-title">
      <h1 id="invoice-title">Invoice {invoice.number ?? '(draft)'}</h1>
      <dl className="facts">
        <dt>Status</dt>
        <dd>
          <span className={`status status-${invoice.status}`}>{words(invoice.status)}</span>
          {invoice.voided_at && <> on {dateTime(invoice.voided_at)}</>}
        </dd>
        <dt>Issued by</dt>
        <dd>{invoice.issuer.name}</dd>
        <dt>Issued to</dt>
        <dd>{invoice.customer.name}</dd>
        <dt>Date</dt>
        <dd>{invoice.issued_at ? <time dateTime={invoice.issued_at}>{dateTime(invoice.issued_at)}</time> : 'Not issued yet'}</dd>
      </dl>
      <PdfDownload invoice={invoice} />
      <section aria-labelledby="lines-title">
        <h2 id="lines-title">Lines</h2>
        <TableScroll label="Invoice lines">
          <table>
            <thead>
              <tr>
                <th scope="col">Description</th>
                <th scope="col">Quantity</th>
                <th scope="col">Unit price</th>
                <th scope="col">Amount</th>
                <th scope="col">Tax</th>
              </tr>
            </thead>
            <tbody>
              {invoice.lines.map((l, n) => (
                <tr key={n}>
                  <td>{l.description}</td>
                  <td>{l.quantity}</td>
                  <td>{money(l.unit_amount_cents, cur)}</td>
                  <td>{money(l.amount_cents, cur)}</td>
                  <td>{money(l.tax_cents, cur)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
        <dl className="facts" aria-label="Totals">
          <dt>Subtotal</dt>
          <dd>{money(invoice.subtotal_cents, cur)}</dd>
          <dt>Tax</dt>
          <dd>{money(invoice.tax_cents, cur)}</dd>
          <dt>Total</dt>
          <dd data-testid="invoice-total">
            <strong>{money(invoice.total_cents, cur)}</strong>
          </dd>
        </dl>
      </section>
      <CreditNotes invoice={invoice} />
      <p>
        <Link to="/me/invoices">All my invoices</Link>
      </p>
    </article>
  );
}

/** The PDF through the API client (it needs the token); progress and failure said in a live region. */
export function PdfDownload({ invoice }: { invoice: Pick<Invoice, 'id' | 'number'> }) {
  const [state, setState] = useState<{ busy: boolean; error?: unknown }>({ busy: false });
  const download = async () => {
    setState({ busy: true });
    try {
      await downloadInvoicePdf(invoice);
      setState({ busy: false });
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return (
    <div className="actions">
      <button type="button" onClick={() => void download()} disabled={state.busy}>
        Download PDF
      </button>
      <p className="visually-hidden" role="status" aria-live="polite">
        {state.busy ? 'Preparing the PDF…' : ''}
      </p>
      {state.error !== undefined && <ErrorBox error={state.error} />}
    </div>
  );
}

function CreditNotes({ invoice }: { invoice: Invoice }) {
  return (
    <section aria-labelledby="credit-notes-title">
      <h2 id="credit-notes-title">Credit notes</h2>
      {invoice.credit_notes.length === 0 ? (
        <p className="empty">No refunds against this invoice.</p>
      ) : (
        <ul className="lines">
          {invoice.credit_notes.map((c) => (
            <li key={c.id} className="line">
              <div>
                <strong>{c.number}</strong> · {c.reason}
                <p className="meta">
                  <time dateTime={c.created_at}>{dateTime(c.created_at)}</time> · <span className={`status status-${c.status}`}>{words(c.status)}</span>
                </p>
              </div>
              <p className="line-total">−{money(c.amount_cents, c.currency)}</p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
