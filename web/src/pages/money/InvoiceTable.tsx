import { Link } from 'react-router-dom';
import { dateTime, money, words } from '../../lib/format';
import type { InvoiceSummary } from './moneyApi';
import { TableScroll } from '../../components/TableScroll';

/**
 * Invoices as a table: number (a link to the invoice once it is issued), the other party, date, total, status.
 * A draft has no number yet and is not shown to its customer, so it is not linked.
 */
export function InvoiceTable({ invoices, caption, party }: { invoices: InvoiceSummary[]; caption: string; party: 'issuer' | 'customer' }) {
  return (
    <TableScroll label={caption}>
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Number</th>
            <th scope="col">{party === 'issuer' ? 'Issued by' : 'Issued to'}</th>
            <th scope="col">Date</th>
            <th scope="col">Total</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {invoices.map((i) => (
            <tr key={i.id}>
              <td>{i.number ? <Link to={`/invoices/${i.id}`}>{i.number}</Link> : <span>Draft (not issued yet)</span>}</td>
              <td>{party === 'issuer' ? i.issuer.name : i.customer.name}</td>
              <td>
                <time dateTime={i.issued_at ?? i.created_at}>{dateTime(i.issued_at ?? i.created_at)}</time>
              </td>
              <td>{money(i.total_cents, i.currency)}</td>
              <td>
                <span className={`status status-${i.status}`}>{words(i.status)}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
