import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { Field, SelectField } from '../../components/Field';
import { ErrorBox } from '../../components/states';
import { toProblem, unwrap } from '../../lib/problem';
import { typedNumber } from './typedNumber';
import { browserZone } from './zones';

/** Every IANA zone the browser knows, with the browser's own first (it may be an alias the list lacks). */
function zoneOptions(): { value: string; label: string }[] {
  const own = browserZone();
  const all = Intl.supportedValuesOf('timeZone');
  return [own, ...all.filter((z) => z !== own)].map((z) => ({ value: z, label: z.replace(/_/g, ' ') }));
}

const EMPTY = { display_name: '', bio: '', categories: '', city: '', country: '', lat: '', lng: '', radius: '' };

/** Onboarding as a provider: who, what, where and in which zone; the operators approve it afterwards. */
export function OnboardingForm() {
  const queries = useQueryClient();
  const [form, setForm] = useState(EMPTY);
  const [zone, setZone] = useState(browserZone);
  const [zones] = useState(zoneOptions);
  const set = (key: keyof typeof EMPTY) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });
  const onboard = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/v1/providers/onboard', {
          body: {
            display_name: form.display_name.trim(),
            ...(form.bio.trim() ? { bio: form.bio.trim() } : {}),
            categories: form.categories
              .split(',')
              .map((c) => c.trim())
              .filter(Boolean),
            time_zone: zone,
            location: { lat: typedNumber(form.lat), lng: typedNumber(form.lng), city: form.city.trim(), country: form.country.trim().toUpperCase() },
            ...(form.radius.trim() ? { service_radius_km: typedNumber(form.radius) } : {}),
          },
        }),
      ),
    onSuccess: (provider) => queries.setQueryData(['my-provider'], provider),
  });
  const problem = onboard.error ? toProblem(onboard.error) : undefined;
  const err = (field: string) => problem?.field(field);
  const useMyLocation = () =>
    navigator.geolocation?.getCurrentPosition((pos) => setForm((f) => ({ ...f, lat: pos.coords.latitude.toFixed(4), lng: pos.coords.longitude.toFixed(4) })));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onboard.mutate();
  };
  return (
    <section className="panel narrow" aria-labelledby="onboard">
      <h2 id="onboard">Become a provider</h2>
      <p>Tell customers who you are. An operator reviews new providers before their services can be found and booked.</p>
      <form onSubmit={submit} noValidate>
        <Field label="Display name" value={form.display_name} onChange={set('display_name')} error={err('display_name')} required />
        <div className="field">
          <label htmlFor="provider-bio">About you (optional)</label>
          <textarea id="provider-bio" value={form.bio} maxLength={5000} onChange={set('bio')} />
        </div>
        <Field label="Categories" hint="Separated by commas, e.g. haircut, beard trim" value={form.categories} onChange={set('categories')} error={err('categories')} required />
        <SelectField label="Time zone" value={zone} onChange={setZone} options={zones} error={err('time_zone')} />
        <fieldset>
          <legend>Location</legend>
          <div className="row">
            <Field label="City" value={form.city} onChange={set('city')} error={err('location.city')} required />
            <Field label="Country code" hint="Two letters, e.g. DE" maxLength={2} value={form.country} onChange={set('country')} error={err('location.country')} required />
          </div>
          <div className="row">
            <Field label="Latitude" type="number" step="any" value={form.lat} onChange={set('lat')} error={err('location.lat')} required />
            <Field label="Longitude" type="number" step="any" value={form.lng} onChange={set('lng')} error={err('location.lng')} required />
          </div>
          <button type="button" className="secondary" onClick={useMyLocation}>
            Use my location
          </button>
        </fieldset>
        <Field label="Service radius in km (optional)" type="number" min={1} value={form.radius} onChange={set('radius')} error={err('service_radius_km')} />
        <button type="submit" disabled={onboard.isPending}>
          {onboard.isPending ? 'Sending…' : 'Send for approval'}
        </button>
        {problem && <ErrorBox error={problem} />}
      </form>
    </section>
  );
}
