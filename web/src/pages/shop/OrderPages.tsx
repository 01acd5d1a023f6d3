import { Link, useLocation, useParams } from 'react-router-dom';
import { useMyOrderPages, useOrder, type Order } from '../../api/shop';
import { useUser } from '../../api/useSession';
import { LoadMore } from '../../components/LoadMore';
import { PdfDownload } from '../money/InvoicePage';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { dateTime, money, words } from '../../lib/format';
import { useTitle } from '../../lib/useTitle';
import { TableScroll } from '../../components/TableScroll';

function SignInFirst({ what }: { what: string }) {
  const location = useLocation();
  return (
    <p>
      <Link to={`/signin?next=${encodeURIComponent(location.pathname)}`}>Sign in</Link> to see {what}.
    </p>
  );
}

/** One order: status and its history, items, totals, shipping address and receipt. */
export function OrderPage() {
  const { id = '' } = useParams();
  const user = useUser();
  // A guest's checkout hands its order over (guests cannot read orders back from the API).
  const handed = (useLocation().state as { order?: Order } | null)?.order;
  const order = useOrder(id, user !== undefined);
  useTitle('Order');
  const data = order.data ?? (handed?.id === id ? handed : undefined);
  if (data) return <OrderView order={data} />;
  if (!user) return <SignInFirst what="this order" />;
  if (order.isPending) return <Loading what="the order" />;
  return <ErrorBox error={order.error} retry={() => void order.refetch()} />;
}

function OrderView({ order }: { order: Order }) {
  const a = order.shipping_address as Record<string, string | undefined>;
  return (
    <>
      <h1>Order {order.id.slice(0, 8)}</h1>
      <p className="lead">
        Status: <span className={`status status-${order.status}`}>{words(order.status)}</span> · placed {dateTime(order.created_at)}
      </p>
      {order.status === 'confirmed' && <p className="success" role="status">Thank you: your order is confirmed and paid.</p>}
      <div className="columns">
        <section aria-labelledby="items">
          <h2 id="items">Items</h2>
          <OrderLines order={order} />
          {order.receipt && (
            <>
              <p>
                Receipt <Link to={`/invoices/${order.receipt.invoice_id}`}>{order.receipt.number}</Link>
              </p>
              {/* The PDF needs the token, so it is fetched by the API client rather than linked. */}
              <PdfDownload invoice={{ id: order.receipt.invoice_id, number: order.receipt.number }} />
            </>
          )}
        </section>
        <aside>
          <h2>Shipping to</h2>
          <address>
            {[a.line1, a.line2, [a.postal_code, a.city].filter(Boolean).join(' '), a.region, a.country].filter(Boolean).map((l) => (
              <span key={l} className="address-line">
                {l}
              </span>
            ))}
          </address>
          <h2>Status history</h2>
          <StatusHistory order={order} />
        </aside>
      </div>
      <p>
        <Link to="/orders">All my orders</Link>
      </p>
    </>
  );
}

/** An order's items with their prices, then subtotal, tax and total (the shopper's and the store owner's views). */
export function OrderLines({ order }: { order: Order }) {
  return (
    <>
      <TableScroll label="Order items">
        <table>
          <thead>
            <tr>
              <th scope="col">Item</th>
              <th scope="col">Quantity</th>
              <th scope="col">Price</th>
              <th scope="col">Total</th>
            </tr>
          </thead>
          <tbody>
            {order.items.map((i) => (
              <tr key={i.variant_id}>
                <td>
                  {i.name} <span className="meta">({i.sku})</span>
                </td>
                <td className="num">{i.quantity}</td>
                <td className="num">{money(i.unit_price_cents, order.currency)}</td>
                <td className="num">{money(i.line_total_cents, order.currency)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
      <dl className="facts">
        <dt>Subtotal</dt>
        <dd>{money(order.subtotal_cents, order.currency)}</dd>
        <dt>Tax</dt>
        <dd>{money(order.tax_cents, order.currency)}</dd>
        <dt>Total</dt>
        <dd>{money(order.total_cents, order.currency)}</dd>
      </dl>
    </>
  );
}

/** Every status the order went through, oldest first, with when and why. */
export function StatusHistory({ order }: { order: Order }) {
  return (
    <ol className="history">
      {order.status_history.map((h) => (
        <li key={`${h.at}-${h.to_status}`}>
          <strong>{words(h.to_status)}</strong> <time dateTime={h.at}>{dateTime(h.at)}</time>
          {h.reason && <span className="meta"> · {h.reason}</span>}
        </li>
      ))}
    </ol>
  );
}

/** The signed-in shopper's orders, newest first. */
export function MyOrdersPage() {
  useTitle('My orders');
  const user = useUser();
  const orders = useMyOrderPages(user !== undefined);
  return (
    <>
      <h1>My orders</h1>
      {!user ? (
        <SignInFirst what="your orders" />
      ) : orders.isPending ? (
        <Loading what="your orders" />
      ) : orders.isError ? (
        <ErrorBox error={orders.error} retry={() => void orders.refetch()} />
      ) : orders.items.length === 0 ? (
        <Empty>
          No orders yet. <Link to="/stores">Find a store</Link>.
        </Empty>
      ) : (
        <>
          <ul className="lines">
            {orders.items.map((o) => (
              <li key={o.id} className="line">
                <div>
                  <Link to={`/orders/${o.id}`}>
                    {o.store.name}: {o.items.map((i) => `${i.quantity} × ${i.name}`).join(', ')}
                  </Link>
                  <p className="meta">
                    {dateTime(o.created_at)} · <span className={`status status-${o.status}`}>{words(o.status)}</span>
                  </p>
                </div>
                <p className="line-total">{money(o.total_cents, o.currency)}</p>
              </li>
            ))}
          </ul>
          <LoadMore list={orders} what="orders" />
        </>
      )}
    </>
  );
}
