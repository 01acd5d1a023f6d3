import { useRef, useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useOrder, type Order } from '../../api/shop';
import { OrderLines, StatusHistory } from '../shop/OrderPages';
import { Field } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { dateTime, money, toMinor, words } from '../../lib/format';
import { toProblem, unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { useAdminStore } from './StoreAdminPage';
import { merchantKeys, NEXT_STATUSES, useReceiptCredits, type CreditNote, type OrderStatus } from './merchantApi';

const STEP_LABEL: Partial<Record<OrderStatus, string>> = {
  processing: 'Mark processing',
  shipped: 'Mark shipped',
  delivered: 'Mark delivered',
};

/** One order for the store owner: items, status moves along the allowed path, refunds and the history. */
export function OrderAdminPage() {
  const store = useAdminStore();
  const { orderId = '' } = useParams();
  const order = useOrder(orderId, true);
  useTitle(`Order ${orderId.slice(0, 8)}: ${store.name}`);
  if (order.isPending) return <Loading what="the order" />;
  if (order.isError) return <ErrorBox error={order.error} retry={() => void order.refetch()} />;
  const o = order.data;
  return (
    <>
      <p className="meta">
        <Link to={`/merchant/stores/${store.id}/orders`}>All orders</Link>
      </p>
      <h2>Order {o.id.slice(0, 8)}</h2>
      <div className="columns">
        <div>
          <section className="panel" aria-labelledby="items-title">
            <h3 id="items-title">Items</h3>
            <OrderLines order={o} />
          </section>
          <Refunds order={o} />
        </div>
        <aside>
          <StatusControls order={o} />
          <h3>Status history</h3>
          <StatusHistory order={o} />
        </aside>
      </div>
    </>
  );
}

function StatusControls({ order }: { order: Order }) {
  const queries = useQueryClient();
  const store = useAdminStore();
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [said, setSaid] = useState('');
  const change = useMutation({
    mutationFn: (to: OrderStatus) =>
      unwrap(api.POST('/v1/orders/{order_id}/status', { params: { path: { order_id: order.id } }, body: { status: to as 'processing' | 'shipped' | 'delivered' | 'cancelled' } })),
    onSuccess: (now) => {
      setConfirmCancel(false);
      setSaid(`The order is now ${words(now.status)}.`);
      void queries.invalidateQueries({ queryKey: ['order', order.id] });
      void queries.invalidateQueries({ queryKey: ['merchant', store.id] });
    },
    // Someone else may have moved it meanwhile: show the order as it is now.
    onError: () => void queries.invalidateQueries({ queryKey: ['order', order.id] }),
  });
  const next = NEXT_STATUSES[order.status];
  return (
    <section className="panel" aria-labelledby="status-title">
      <h3 id="status-title">Status</h3>
      <p>
        <span className={`status status-${order.status}`} data-testid="order-status">
          {words(order.status)}
        </span>
      </p>
      {change.error && <ErrorBox error={change.error} />}
      {next.length === 0 ? (
        <p className="hint">{order.status === 'pending' ? 'Still being checked out: it can change once confirmed.' : `A ${words(order.status)} order is final.`}</p>
      ) : confirmCancel ? (
        <>
          <p>Cancel this order? The payment is refunded in full and the units go back to stock. This cannot be undone.</p>
          <div className="row">
            <button type="button" className="danger" autoFocus onClick={() => change.mutate('cancelled')} disabled={change.isPending}>
              Yes, cancel the order
            </button>
            <button type="button" className="secondary" onClick={() => setConfirmCancel(false)}>
              Keep it
            </button>
          </div>
        </>
      ) : (
        <div className="row">
          {next.map((to) =>
            to === 'cancelled' ? (
              <button key={to} type="button" className="secondary" onClick={() => setConfirmCancel(true)}>
                Cancel order…
              </button>
            ) : (
              <button key={to} type="button" onClick={() => change.mutate(to)} disabled={change.isPending}>
                {STEP_LABEL[to]}
              </button>
            ),
          )}
        </div>
      )}
      <p role="status" aria-live="polite">
        {said}
      </p>
    </section>
  );
}

/** Partial refunds (credit notes against the receipt): the list, and a form with amount and reason. */
function Refunds({ order }: { order: Order }) {
  const queries = useQueryClient();
  const invoiceId = order.receipt?.invoice_id;
  const credits = useReceiptCredits(invoiceId);
  // Without a receipt (a guest who left no email) the API keeps no list to read: show what this page issued.
  const [issued, setIssued] = useState<CreditNote[]>([]);
  const [form, setForm] = useState({ amount: '', reason: '' });
  // Units coming back, per variant: put back on sale with the refund (empty or 0: none).
  const [restock, setRestock] = useState<Record<string, string>>({});
  const returned = order.items.flatMap((i) => {
    const n = Number(restock[i.variant_id] ?? '');
    return restock[i.variant_id]?.trim() && n !== 0 ? [{ variant_id: i.variant_id, quantity: n }] : [];
  });
  const [said, setSaid] = useState('');
  const attemptKey = useRef<string | undefined>(undefined);
  const refund = useMutation({
    mutationFn: async () => {
      // One key per attempt: kept when no answer came, so pressing again cannot refund twice.
      attemptKey.current ??= crypto.randomUUID();
      const res = await api.POST('/v1/orders/{id}/refunds', {
        params: { path: { id: order.id }, header: { 'idempotency-key': attemptKey.current } },
        body: { amount_cents: toMinor(form.amount, order.currency) || 0, reason: form.reason, ...(returned.length > 0 ? { items: returned } : {}) },
      });
      if (res.error !== undefined || !res.response.ok) {
        const remaining = (res.error as { remaining_cents?: unknown } | undefined)?.remaining_cents;
        throw Object.assign(toProblem(res.error, res.response.status), { remaining: typeof remaining === 'number' ? remaining : undefined });
      }
      return res.data as CreditNote;
    },
    onSuccess: (note) => {
      attemptKey.current = undefined;
      setIssued([...issued, note]);
      setSaid(`Refunded ${money(note.amount_cents, note.currency)} (credit note ${note.number}).`);
      setForm({ amount: '', reason: '' });
      setRestock({});
      if (returned.length > 0) void queries.invalidateQueries({ queryKey: merchantKeys.inventory(order.store_id) });
      if (invoiceId) void queries.invalidateQueries({ queryKey: ['invoice', invoiceId] });
    },
    onError: (err) => {
      if (toProblem(err).status < 500) attemptKey.current = undefined;
    },
  });
  const problem = refund.error ? toProblem(refund.error) : undefined;
  const remaining = (refund.error as { remaining?: number } | null)?.remaining;
  const amountError =
    problem?.code === 'refund_exceeds_remaining'
      ? remaining !== undefined
        ? `More than is left to refund: at most ${money(remaining, order.currency)}.`
        : 'More than is left to refund on this order.'
      : problem?.field('amount_cents');
  const notes = invoiceId ? (credits.data?.credit_notes ?? []) : issued;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaid('');
    refund.mutate();
  };
  return (
    <section className="panel" aria-labelledby="refunds-title">
      <h3 id="refunds-title">Refunds</h3>
      {invoiceId && credits.isPending ? (
        <Loading what="refunds" />
      ) : invoiceId && credits.isError ? (
        <ErrorBox error={credits.error} retry={() => void credits.refetch()} />
      ) : notes.length === 0 ? (
        <Empty>No refunds yet.</Empty>
      ) : (
        <ul className="lines" aria-label="Refunds issued">
          {notes.map((n) => (
            <li key={n.id} className="line">
              <div>
                <strong>{n.number}</strong>: {n.reason}
                <p className="meta">
                  <time dateTime={n.created_at}>{dateTime(n.created_at)}</time> · {words(n.status)}
                </p>
              </div>
              <p className="line-total">{money(n.amount_cents, n.currency)}</p>
            </li>
          ))}
        </ul>
      )}
      {order.status === 'pending' ? (
        <p className="hint">Nothing is charged until checkout finishes.</p>
      ) : (
        <form onSubmit={submit} noValidate>
          {problem && <ErrorBox error={problem} />}
          <div className="row">
            <Field
              label={`Refund amount (${order.currency})`}
              inputMode="decimal"
              required
              value={form.amount}
              onChange={(e) => setForm({ ...form, amount: e.target.value })}
              error={amountError}
              hint="Tax included."
            />
            <Field label="Reason" required value={form.reason} onChange={(e) => setForm({ ...form, reason: e.target.value })} error={problem?.field('reason')} />
          </div>
          <fieldset className={problem?.code === 'restock_exceeds_sold' ? 'invalid' : undefined}>
            <legend>Units back on sale (optional)</legend>
            {problem?.code === 'restock_exceeds_sold' && <p className="field-error">More units than this order sold and has not put back already.</p>}
            {order.items.map((i) => (
              <Field
                key={i.variant_id}
                label={`${i.name} (${i.sku}), of ${i.quantity}`}
                inputMode="numeric"
                value={restock[i.variant_id] ?? ''}
                onChange={(e) => setRestock({ ...restock, [i.variant_id]: e.target.value })}
                error={problem?.field(`items.${returned.findIndex((r) => r.variant_id === i.variant_id)}.quantity`)}
              />
            ))}
          </fieldset>
          <button type="submit" disabled={refund.isPending}>
            {refund.isPending ? 'Refunding…' : 'Issue refund'}
          </button>
        </form>
      )}
      <p role="status" aria-live="polite">
        {said}
      </p>
    </section>
  );
}
