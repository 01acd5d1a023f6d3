import { useState } from 'react';
import { Link } from 'react-router-dom';
import { SelectField } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { dateTime, money, words } from '../../lib/format';
import { useTitle } from '../../lib/useTitle';
import { LoadMore } from '../../components/LoadMore';
import { useAdminStore } from './StoreAdminPage';
import { ORDER_STATUSES, useStoreOrders, type OrderStatus } from './merchantApi';
import { TableScroll } from '../../components/TableScroll';

/** The store's orders, newest first, filtered by status; each links to its admin page. */
export function OrdersSection() {
  const store = useAdminStore();
  useTitle(`Orders: ${store.name}`);
  const [status, setStatus] = useState<OrderStatus | ''>('');
  const orders = useStoreOrders(store.id, status);
  return (
    <section aria-labelledby="orders-title">
      <h2 id="orders-title">Orders</h2>
      <div className="filters">
        <SelectField
          label="Status"
          value={status}
          onChange={(v) => setStatus(v as OrderStatus | '')}
          options={[{ value: '', label: 'Every status' }, ...ORDER_STATUSES.map((s) => ({ value: s, label: words(s) }))]}
        />
      </div>
      {orders.isPending ? (
        <Loading what="orders" />
      ) : orders.isError ? (
        <ErrorBox error={orders.error} retry={() => void orders.refetch()} />
      ) : orders.items.length === 0 ? (
        <Empty>{status ? `No ${words(status)} orders.` : 'No orders yet.'}</Empty>
      ) : (
        <>
          <TableScroll label="Orders table">
            <table>
              <caption className="visually-hidden">Orders, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Order</th>
                  <th scope="col">Placed</th>
                  <th scope="col">Status</th>
                  <th scope="col">Total</th>
                </tr>
              </thead>
              <tbody>
                {orders.items.map((o) => (
                  <tr key={o.id}>
                    <td>
                      <Link to={`/merchant/stores/${store.id}/orders/${o.id}`}>Order {o.id.slice(0, 8)}</Link>
                    </td>
                    <td>
                      <time dateTime={o.created_at}>{dateTime(o.created_at)}</time>
                    </td>
                    <td>
                      <span className={`status status-${o.status}`}>{words(o.status)}</span>
                    </td>
                    <td className="num">{money(o.total_cents, o.currency)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
          <LoadMore list={orders} what="orders" />
        </>
      )}
    </section>
  );
}
