import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useCart, useProducts, variantLabel, type Cart, type Store } from '../../api/shop';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { money } from '../../lib/format';
import { unwrap } from '../../lib/problem';
import { clock, useNow } from '../../lib/useNow';
import { useTitle } from '../../lib/useTitle';
import { CheckoutForm } from './CheckoutForm';
import { StoreFrame } from './StoreFrame';

export function CartPage() {
  return <StoreFrame>{(store) => <CartView store={store} />}</StoreFrame>;
}

type Line = Cart['items'][number];

function CartView({ store }: { store: Store }) {
  useTitle(`Cart · ${store.name}`);
  const cart = useCart(store.id);
  // Cart lines carry only variant ids: names come from the store's catalog.
  const catalog = useProducts(store.id, {});
  const names = new Map((catalog.data?.data ?? []).flatMap((p) => p.variants.map((v) => [v.id, `${p.name} (${variantLabel(v)})`] as const)));
  const nameOf = (line: Line) => names.get(line.variant_id) ?? 'An item';
  const announcement = useHoldEnds(cart.data ?? null, nameOf, () => void cart.refetch());

  return (
    <>
      <h1>Your cart</h1>
      {/* Said by screen readers when a hold ends; the countdowns themselves stay silent. */}
      <p className="visually-hidden" aria-live="assertive" role="status">
        {announcement}
      </p>
      {cart.isPending ? (
        <Loading what="your cart" />
      ) : cart.isError ? (
        <ErrorBox error={cart.error} retry={() => void cart.refetch()} />
      ) : !cart.data || cart.data.items.length === 0 ? (
        <Empty>
          Your cart is empty. <Link to={`/stores/${store.slug}`}>Browse {store.name}</Link>.
        </Empty>
      ) : (
        <div className="columns">
          <section aria-labelledby="lines">
            <h2 id="lines">Items</h2>
            {announcement && <p className="notice">{announcement}</p>}
            <ul className="lines">
              {cart.data.items.map((line) => (
                <CartLine key={line.variant_id} line={line} cart={cart.data!} name={nameOf(line)} store={store} />
              ))}
            </ul>
            <p className="total">
              Subtotal: <strong>{money(cart.data.subtotal_cents, cart.data.currency)}</strong> <span className="meta">(tax is added at checkout)</span>
            </p>
          </section>
          <CheckoutForm cart={cart.data} store={store} />
        </div>
      )}
    </>
  );
}

/**
 * Watches the lines' holds: when one runs out, says so (once per hold) and reloads the cart, whose line then
 * shows it is no longer held (its units went back to stock).
 */
function useHoldEnds(cart: Cart | null, nameOf: (line: Line) => string, reload: () => void): string {
  const now = useNow(1000);
  const said = useRef(new Set<string>());
  const [announcement, setAnnouncement] = useState('');
  useEffect(() => {
    const ended = (cart?.items ?? []).filter((l) => l.reserved_until && Date.parse(l.reserved_until) <= now && !said.current.has(`${l.variant_id}@${l.reserved_until}`));
    if (ended.length === 0) return;
    for (const l of ended) said.current.add(`${l.variant_id}@${l.reserved_until}`);
    setAnnouncement(`The hold ended on ${ended.map(nameOf).join(', ')}: the units went back to stock and may sell out. Press Update on the line to hold them again (if any are left), or check out now.`);
    reload();
  }, [cart, now, nameOf, reload]);
  return announcement;
}

function HoldCountdown({ until }: { until: string | null }) {
  const now = useNow(1000);
  if (!until || Date.parse(until) <= now) return <span className="hold ended">Not held: the units went back to stock</span>;
  return (
    <span className="hold">
      Held for you for <span role="timer" aria-label="Time left on the hold">{clock(Date.parse(until) - now)}</span>
    </span>
  );
}

function CartLine({ line, cart, name, store }: { line: Line; cart: Cart; name: string; store: Store }) {
  const queries = useQueryClient();
  const [quantity, setQuantity] = useState(String(line.quantity));
  useEffect(() => setQuantity(String(line.quantity)), [line.quantity]);
  const path = { cart_id: cart.id, variant_id: line.variant_id };
  const change = useMutation({
    mutationFn: (to: number) =>
      unwrap(to === 0 ? api.DELETE('/v1/carts/{cart_id}/items/{variant_id}', { params: { path } }) : api.PATCH('/v1/carts/{cart_id}/items/{variant_id}', { params: { path }, body: { quantity: to } })),
    onSuccess: (next) => queries.setQueryData(['cart', store.id], next),
  });
  const id = `qty-${line.variant_id}`;

  return (
    <li className="line">
      <div>
        <strong>{name}</strong>
        <p className="meta">
          {money(line.unit_price_cents, cart.currency)} each · <HoldCountdown until={line.reserved_until} />
        </p>
      </div>
      <form
        className="line-actions"
        onSubmit={(e) => {
          e.preventDefault();
          change.mutate(Number(quantity));
        }}
      >
        <label htmlFor={id}>Quantity of {name}</label>
        <input id={id} type="number" min={0} max={100} inputMode="numeric" value={quantity} onChange={(e) => setQuantity(e.target.value)} aria-invalid={change.isError || undefined} />
        <button type="submit" className="secondary" disabled={change.isPending}>
          Update
        </button>
        <button type="button" className="link" disabled={change.isPending} onClick={() => change.mutate(0)}>
          Remove {name}
        </button>
      </form>
      <p className="line-total">{money(line.line_total_cents, cart.currency)}</p>
      {change.isError && <ErrorBox error={change.error} />}
    </li>
  );
}

