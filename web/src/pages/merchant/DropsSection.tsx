import { useEffect, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { variantLabel, type Store } from '../../api/shop';
import { Field, SelectField } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { dateTime, money, toMinor, words } from '../../lib/format';
import { toProblem, unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { LoadMore } from '../../components/LoadMore';
import { useAdminStore } from './StoreAdminPage';
import { merchantKeys, useInventory, useStoreDrops } from './merchantApi';
import { SubmitAndSay } from '../../components/SubmitAndSay';

/** A `datetime-local` value (the merchant's wall clock) `minutes` from now. */
function localIn(minutes: number): string {
  const d = new Date(Date.now() + minutes * 60_000);
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset(), 0, 0);
  return d.toISOString().slice(0, 16);
}

/** The merchant's local wall-clock time as UTC; an unreadable one goes as typed, so the API marks the field. */
const toUtc = (local: string) => {
  const when = new Date(local);
  return Number.isNaN(when.getTime()) ? local : when.toISOString();
};

/** The store's drops (newest first, each linking to its public page) and a form to schedule one. */
export function DropsSection() {
  const store = useAdminStore();
  useTitle(`Drops: ${store.name}`);
  const drops = useStoreDrops(store.id);
  return (
    <div className="columns">
      <section aria-labelledby="drops-title">
        <h2 id="drops-title">Drops</h2>
        {drops.isPending ? (
          <Loading what="drops" />
        ) : drops.isError ? (
          <ErrorBox error={drops.error} retry={() => void drops.refetch()} />
        ) : drops.items.length === 0 ? (
          <Empty>No drops yet. Schedule one with the form.</Empty>
        ) : (
          <>
            <ul className="lines" aria-label="Your drops">
              {drops.items.map((d) => (
                <li key={d.id} className="line">
                  <div>
                    <Link to={`/drops/${d.id}`}>
                      {d.mode === 'lottery' ? 'Lottery' : 'First come, first served'} of {d.quantity} at {money(d.price_cents, d.currency)}
                    </Link>
                    <p className="meta">
                      Opens <time dateTime={d.opens_at}>{dateTime(d.opens_at)}</time>
                      {d.closes_at && (
                        <>
                          {' '}
                          · closes <time dateTime={d.closes_at}>{dateTime(d.closes_at)}</time>
                        </>
                      )}
                      {d.entries_count !== undefined && ` · ${d.entries_count} entr${d.entries_count === 1 ? 'y' : 'ies'}`} · {d.sold} sold
                    </p>
                    {d.mode === 'lottery' && d.drawn_at && (
                      <Link to={`/drops/${d.id}/verify`}>
                        Verify the draw<span className="visually-hidden"> of the lottery opening {dateTime(d.opens_at)}</span>
                      </Link>
                    )}
                  </div>
                  <p className="line-total">
                    <span className="status">{words(d.status)}</span>
                  </p>
                </li>
              ))}
            </ul>
            <LoadMore list={drops} what="drops" />
          </>
        )}
      </section>
      <aside>
        <NewDropForm store={store} />
      </aside>
    </div>
  );
}

function NewDropForm({ store }: { store: Store }) {
  const queries = useQueryClient();
  const variants = useInventory(store.id);
  // The picker offers every variant: the remaining pages load one after another.
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = variants;
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);
  const [form, setForm] = useState({ variantId: '', quantity: '10', mode: 'lottery' as 'lottery' | 'fcfs', opensAt: localIn(60), closesAt: localIn(24 * 60), claimHours: '48', price: '' });
  const [said, setSaid] = useState('');
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/v1/stores/{store_id}/drops', {
          params: { path: { store_id: store.id } },
          body: {
            variant_id: form.variantId || (variants.items[0]?.variant_id ?? ''),
            quantity: Number(form.quantity),
            mode: form.mode,
            // The merchant picks wall-clock times in their own time zone; the API takes UTC.
            opens_at: toUtc(form.opensAt),
            ...(form.closesAt ? { closes_at: toUtc(form.closesAt) } : {}),
            ...(form.mode === 'lottery' && form.claimHours.trim() ? { claim_window_seconds: Math.round(Number(form.claimHours) * 3_600) } : {}),
            ...(form.price.trim() ? { price_cents: toMinor(form.price, store.currency) || 0 } : {}),
          },
        }),
      ),
    onSuccess: (drop) => {
      setSaid(`Scheduled: opens ${dateTime(drop.opens_at)}.`);
      void queries.invalidateQueries({ queryKey: merchantKeys.drops(store.id) });
    },
  });
  const problem = create.error ? toProblem(create.error) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaid('');
    create.mutate();
  };
  if (variants.isPending) return <Loading what="your variants" />;
  if (variants.isError) return <ErrorBox error={variants.error} retry={() => void variants.refetch()} />;
  if (variants.items.length === 0) return <Empty>Add a product before scheduling a drop.</Empty>;
  return (
    <section className="panel" aria-labelledby="new-drop-title">
      <h2 id="new-drop-title">Schedule a drop</h2>
      <form onSubmit={submit} noValidate>
        {problem && <ErrorBox error={problem} />}
        <SelectField
          label="Variant"
          value={form.variantId || variants.items[0]!.variant_id}
          onChange={(v) => setForm({ ...form, variantId: v })}
          options={variants.items.map((l) => ({ value: l.variant_id, label: `${l.product.name} (${variantLabel(l)}) · ${l.available} available` }))}
          error={problem?.field('variant_id')}
        />
        <div className="row">
          <Field label="Quantity" inputMode="numeric" required value={form.quantity} onChange={(e) => setForm({ ...form, quantity: e.target.value })} error={problem?.field('quantity')} />
          <SelectField
            label="Mode"
            value={form.mode}
            onChange={(v) => setForm({ ...form, mode: v as 'lottery' | 'fcfs' })}
            options={[
              { value: 'lottery', label: 'Lottery (fair draw)' },
              { value: 'fcfs', label: 'First come, first served' },
            ]}
            error={problem?.field('mode')}
          />
        </div>
        <Field label="Opens at" type="datetime-local" required value={form.opensAt} onChange={(e) => setForm({ ...form, opensAt: e.target.value })} error={problem?.field('opens_at')} hint="Your local time." />
        <Field
          label={form.mode === 'lottery' ? 'Registration closes at' : 'Sale ends at (optional)'}
          type="datetime-local"
          value={form.closesAt}
          onChange={(e) => setForm({ ...form, closesAt: e.target.value })}
          error={problem?.field('closes_at')}
          hint="Your local time."
        />
        <div className="row">
          {form.mode === 'lottery' && (
            <Field label="Claim window (hours)" inputMode="decimal" value={form.claimHours} onChange={(e) => setForm({ ...form, claimHours: e.target.value })} error={problem?.field('claim_window_seconds')} hint="How long a winner has to buy." />
          )}
          <Field label={`Drop price (${store.currency})`} inputMode="decimal" value={form.price} onChange={(e) => setForm({ ...form, price: e.target.value })} error={problem?.field('price_cents')} hint="Empty: the variant's price." />
        </div>
        <SubmitAndSay busy={create.isPending} label="Schedule drop" busyLabel="Scheduling…" said={said} />
      </form>
    </section>
  );
}
