import { useRef, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { cartIds, type Cart, type Store } from '../../api/shop';
import { useUser } from '../../api/useSession';
import { Field, SelectField } from '../../components/Field';
import { ErrorBox } from '../../components/states';
import { toProblem, unwrap } from '../../lib/problem';
import { TEST_CARDS } from '../PledgeForm';

const EMPTY_ADDRESS = { line1: '', line2: '', city: '', postal_code: '', country: 'US', region: '' };
type AddressForm = typeof EMPTY_ADDRESS;

/** Blank optional fields left out (the API refuses empty strings). */
function address(form: AddressForm) {
  const { line2, region, ...required } = form;
  return { ...required, country: required.country.trim().toUpperCase(), ...(line2.trim() ? { line2 } : {}), ...(region.trim() ? { region } : {}) };
}

/**
 * Shipping address, the simulated gateway's test card, and Place order. One Idempotency-Key per attempt: kept
 * when the answer never came (network error, 5xx) so pressing again cannot pay twice, new once the API answered.
 */
export function CheckoutForm({ cart, store }: { cart: Cart; store: Store }) {
  const user = useUser();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const [form, setForm] = useState(EMPTY_ADDRESS);
  const [email, setEmail] = useState('');
  const [card, setCard] = useState<string>(TEST_CARDS[0].value);
  const attemptKey = useRef<string | undefined>(undefined);

  const checkout = useMutation({
    mutationFn: () => {
      attemptKey.current ??= crypto.randomUUID();
      return unwrap(
        api.POST('/v1/checkout', {
          params: { header: { 'idempotency-key': attemptKey.current } },
          body: { cart_id: cart.id, shipping_address: address(form), payment_method: card, ...(user || !email.trim() ? {} : { email: email.trim() }) },
        }),
      );
    },
    onSuccess: (order) => {
      attemptKey.current = undefined;
      cartIds.forget(store.id);
      queries.setQueryData(['cart', store.id], null);
      queries.setQueryData(['order', order.id], order);
      void queries.invalidateQueries({ queryKey: ['my-orders'] });
      navigate(`/orders/${order.id}`, { state: { order } });
    },
    onError: (err) => {
      const p = toProblem(err);
      if (p.status >= 400 && p.status < 500) attemptKey.current = undefined;
      // Stock or prices moved, or the cart is gone: show the cart as it is now.
      if (p.status === 409 || p.code === 'cart_expired') void queries.invalidateQueries({ queryKey: ['cart', store.id] });
    },
  });
  const problem = checkout.error ? toProblem(checkout.error) : undefined;
  const err = (field: string) => problem?.field(`shipping_address.${field}`);
  const set = (key: keyof AddressForm) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    checkout.mutate();
  };

  return (
    <section className="panel" aria-labelledby="checkout">
      <h2 id="checkout">Checkout</h2>
      <form onSubmit={submit} noValidate>
        <fieldset>
          <legend>Shipping address</legend>
          <Field label="Address line 1" autoComplete="address-line1" value={form.line1} onChange={set('line1')} error={err('line1')} required />
          <Field label="Address line 2 (optional)" autoComplete="address-line2" value={form.line2} onChange={set('line2')} error={err('line2')} />
          <div className="row">
            <Field label="City" autoComplete="address-level2" value={form.city} onChange={set('city')} error={err('city')} required />
            <Field label="Postal code" autoComplete="postal-code" value={form.postal_code} onChange={set('postal_code')} error={err('postal_code')} required />
          </div>
          <div className="row">
            <Field label="Region (optional)" autoComplete="address-level1" value={form.region} onChange={set('region')} error={err('region')} />
            <Field label="Country" hint="Two letters, e.g. US, GB, DE" autoComplete="country" maxLength={2} value={form.country} onChange={set('country')} error={err('country')} required />
          </div>
        </fieldset>
        {!user && (
          <Field label="Email for the receipt (optional)" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} error={problem?.field('email')} />
        )}
        <SelectField label="Card (test cards)" value={card} onChange={setCard} options={TEST_CARDS.map((c) => ({ value: c.value, label: c.label }))} error={problem?.field('payment_method')} />
        <button type="submit" disabled={checkout.isPending}>
          {checkout.isPending ? 'Placing order…' : 'Place order'}
        </button>
        <div aria-live="polite">{checkout.isPending && <p className="state">Paying and confirming your order…</p>}</div>
        {checkout.isError && <ErrorBox error={checkout.error} retry={problem && problem.status === 0 ? () => checkout.mutate() : undefined} />}
      </form>
    </section>
  );
}
