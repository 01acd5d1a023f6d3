import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { Field } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { dateTime } from '../../lib/format';
import { toProblem, unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { LoadMore } from '../../components/LoadMore';
import { MerchantGate } from './MerchantGate';
import { merchantKeys, useMyStores } from './merchantApi';

/** The merchant's own stores, and a form to open another. */
export function MyStoresPage() {
  useTitle('My stores');
  return (
    <MerchantGate what="your stores">
      <h1>My stores</h1>
      <div className="columns">
        <StoreList />
        <aside>
          <NewStoreForm />
        </aside>
      </div>
    </MerchantGate>
  );
}

function StoreList() {
  const stores = useMyStores();
  if (stores.isPending) return <Loading what="your stores" />;
  if (stores.isError) return <ErrorBox error={stores.error} retry={() => void stores.refetch()} />;
  if (stores.items.length === 0) return <Empty>No stores yet. Open your first one with the form.</Empty>;
  return (
    <>
      <ul className="lines" aria-label="Your stores">
        {stores.items.map((s) => (
          <li key={s.id} className="line">
            <div>
              <Link to={`/merchant/stores/${s.id}`}>{s.name}</Link>
              <p className="meta">
                /{s.slug} · {s.currency} · {s.product_count} product{s.product_count === 1 ? '' : 's'} · opened {dateTime(s.created_at)}
              </p>
            </div>
            <p className="line-total">
              <Link to={`/stores/${s.slug}`}>
                Storefront<span className="visually-hidden"> of {s.name}</span>
              </Link>
            </p>
          </li>
        ))}
      </ul>
      <LoadMore list={stores} what="stores" />
    </>
  );
}

/** Lowercase letters, digits and dashes from a name, as a slug suggestion. */
const slugOf = (name: string) =>
  name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);

function NewStoreForm() {
  const navigate = useNavigate();
  const queries = useQueryClient();
  const [form, setForm] = useState({ name: '', slug: '', currency: 'USD' });
  const [slugTouched, setSlugTouched] = useState(false);
  const create = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/stores', { body: form })),
    onSuccess: (store) => {
      void queries.invalidateQueries({ queryKey: merchantKeys.stores });
      navigate(`/merchant/stores/${store.id}`);
    },
  });
  const problem = create.error ? toProblem(create.error) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <section className="panel" aria-labelledby="new-store-title">
      <h2 id="new-store-title">Open a store</h2>
      <form onSubmit={submit} noValidate>
        {problem && <ErrorBox error={problem} />}
        <Field
          label="Store name"
          required
          value={form.name}
          onChange={(e) => setForm({ ...form, name: e.target.value, slug: slugTouched ? form.slug : slugOf(e.target.value) })}
          error={problem?.field('name')}
        />
        <Field
          label="Address (slug)"
          required
          value={form.slug}
          onChange={(e) => {
            setSlugTouched(true);
            setForm({ ...form, slug: e.target.value });
          }}
          error={problem?.field('slug') ?? (problem?.code === 'slug_taken' ? 'Another store has this address; pick another.' : undefined)}
          hint="3–60 lowercase letters, digits or dashes: your storefront is /stores/<slug>."
        />
        <Field
          label="Currency"
          required
          maxLength={3}
          value={form.currency}
          onChange={(e) => setForm({ ...form, currency: e.target.value.toUpperCase() })}
          error={problem?.field('currency')}
          hint="ISO code, e.g. USD or EUR: every price in the store is in it."
        />
        <button type="submit" disabled={create.isPending}>
          {create.isPending ? 'Opening…' : 'Open store'}
        </button>
      </form>
    </section>
  );
}
