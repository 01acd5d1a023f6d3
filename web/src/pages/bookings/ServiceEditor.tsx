import { useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useProviderServices } from '../../api/bookings';
import { Field } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { money, toMinor } from '../../lib/format';
import { toProblem, unwrap } from '../../lib/problem';
import { typedNumber } from './typedNumber';

const EMPTY = { title: '', description: '', category: '', duration: '60', buffer: '0', price: '', currency: 'EUR', freeHours: '24', lateFee: '50', noShowFee: '100' };

/** The provider's services and the form to offer another (duration, buffer, price, cancellation policy). */
export function ServiceEditor({ providerId }: { providerId: string }) {
  const queries = useQueryClient();
  const services = useProviderServices(providerId);
  const [form, setForm] = useState(EMPTY);
  const set = (key: keyof typeof EMPTY) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });
  const currency = form.currency.trim().toUpperCase();
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/v1/providers/{id}/services', {
          params: { path: { id: providerId } },
          body: {
            title: form.title.trim(),
            ...(form.description.trim() ? { description: form.description.trim() } : {}),
            category: form.category.trim(),
            duration_minutes: typedNumber(form.duration),
            buffer_minutes: Number(form.buffer || 0),
            base_price_cents: /^[A-Z]{3}$/.test(currency) ? toMinor(form.price, currency) : NaN,
            currency,
            cancellation_policy: { free_until_hours: typedNumber(form.freeHours), late_fee_percent: typedNumber(form.lateFee), no_show_fee_percent: typedNumber(form.noShowFee) },
          },
        }),
      ),
    onSuccess: () => {
      setForm(EMPTY);
      void queries.invalidateQueries({ queryKey: ['provider-services', providerId] });
    },
  });
  const problem = create.error ? toProblem(create.error) : undefined;
  const err = (field: string) => problem?.field(field);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };

  return (
    <>
      {services.isPending ? (
        <Loading what="your services" />
      ) : services.isError ? (
        <ErrorBox error={services.error} retry={() => void services.refetch()} />
      ) : services.data.length === 0 ? (
        <Empty>No services yet: add your first below.</Empty>
      ) : (
        <ul className="lines">
          {services.data.map((s) => (
            <li key={s.id} className="line">
              <div>
                <Link to={`/services/${s.id}`}>{s.title}</Link>
                <p className="meta">
                  {s.duration_minutes} min + {s.buffer_minutes} min buffer · {s.category} · free cancellation until {s.cancellation_policy.free_until_hours} h before, then{' '}
                  {s.cancellation_policy.late_fee_percent}% fee
                </p>
              </div>
              <p className="line-total">{money(s.base_price_cents, s.currency)}</p>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={submit} noValidate aria-labelledby="new-service">
        <h3 id="new-service">Add a service</h3>
        <Field label="Title" value={form.title} onChange={set('title')} error={err('title')} required />
        <div className="field">
          <label htmlFor="service-description">Description (optional)</label>
          <textarea id="service-description" value={form.description} maxLength={5000} onChange={set('description')} />
        </div>
        <Field label="Service category" value={form.category} onChange={set('category')} error={err('category')} required />
        <div className="row">
          <Field label="Duration (minutes)" type="number" min={5} max={1440} value={form.duration} onChange={set('duration')} error={err('duration_minutes')} required />
          <Field label="Buffer after (minutes)" type="number" min={0} max={720} value={form.buffer} onChange={set('buffer')} error={err('buffer_minutes')} />
        </div>
        <div className="row">
          <Field label="Price" inputMode="decimal" value={form.price} onChange={set('price')} error={err('base_price_cents')} required />
          <Field label="Currency" maxLength={3} value={form.currency} onChange={set('currency')} error={err('currency')} required />
        </div>
        <fieldset>
          <legend>Cancellation policy</legend>
          <div className="row">
            <Field label="Free cancellation until (hours before)" type="number" min={0} value={form.freeHours} onChange={set('freeHours')} error={err('cancellation_policy.free_until_hours')} />
            <Field label="Late cancellation fee (%)" type="number" min={0} max={100} value={form.lateFee} onChange={set('lateFee')} error={err('cancellation_policy.late_fee_percent')} />
            <Field label="No-show fee (%)" type="number" min={0} max={100} value={form.noShowFee} onChange={set('noShowFee')} error={err('cancellation_policy.no_show_fee_percent')} />
          </div>
        </fieldset>
        <button type="submit" disabled={create.isPending}>
          {create.isPending ? 'Adding…' : 'Add service'}
        </button>
        <p role="status" className="meta">
          {create.isSuccess && !create.isPending ? 'Service added.' : ''}
        </p>
        {problem && <ErrorBox error={problem} />}
      </form>
    </>
  );
}
