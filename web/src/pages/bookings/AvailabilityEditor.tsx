import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useAvailability, type Availability } from '../../api/bookings';
import { SelectField } from '../../components/Field';
import { ErrorBox, Loading } from '../../components/states';
import { unwrap } from '../../lib/problem';

/** The end of a day, which the API takes and a time input cannot show. */
const MIDNIGHT = '24:00';

/** Monday first, as people read a week; the API counts 0 = Sunday. */
const WEEK = [1, 2, 3, 4, 5, 6, 0];
const dayName = (weekday: number) => new Intl.DateTimeFormat('en-US', { weekday: 'long', timeZone: 'UTC' }).format(new Date(Date.UTC(2024, 0, 7 + weekday)));

interface Hours {
  weekday: number;
  start: string;
  end: string;
}
interface Exception {
  date: string;
  closed: boolean;
  start: string;
  end: string;
}

/** Weekly opening hours (any number of ranges per day) and dated exceptions, in the provider's time zone. */
export function AvailabilityEditor({ providerId }: { providerId: string }) {
  const availability = useAvailability(providerId);
  if (availability.isPending) return <Loading what="opening hours" />;
  if (availability.isError) return <ErrorBox error={availability.error} retry={() => void availability.refetch()} />;
  return <HoursForm providerId={providerId} current={availability.data} />;
}

function HoursForm({ providerId, current }: { providerId: string; current: Availability }) {
  const queries = useQueryClient();
  const [weekly, setWeekly] = useState<Hours[]>(current.weekly);
  const [exceptions, setExceptions] = useState<Exception[]>(
    current.exceptions.map((e) => ('closed' in e ? { date: e.date, closed: true, start: '09:00', end: '17:00' } : { date: e.date, closed: false, start: e.start, end: e.end })),
  );
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PUT('/v1/providers/{id}/availability', {
          params: { path: { id: providerId } },
          body: { weekly, exceptions: exceptions.map((e) => (e.closed ? { date: e.date, closed: true as const } : { date: e.date, start: e.start, end: e.end })) },
        }),
      ),
    onSuccess: (saved) => queries.setQueryData(['availability', providerId], saved),
  });
  const editHours = (i: number, patch: Partial<Hours>) => setWeekly(weekly.map((h, j) => (j === i ? { ...h, ...patch } : h)));
  const editException = (i: number, patch: Partial<Exception>) => setExceptions(exceptions.map((e, j) => (j === i ? { ...e, ...patch } : e)));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };

  return (
    <form onSubmit={submit} aria-label="Opening hours">
      <p className="meta">Times are in your time zone, {current.time_zone}.</p>
      {WEEK.map((weekday) => {
        const name = dayName(weekday);
        const ranges = weekly.map((h, i) => ({ h, i })).filter(({ h }) => h.weekday === weekday);
        return (
          <fieldset key={weekday}>
            <legend>{name}</legend>
            {ranges.length === 0 && <p className="meta">Closed</p>}
            {ranges.map(({ h, i }, n) => {
              const which = ranges.length > 1 ? ` (${n + 1})` : '';
              return (
                <div className="row" key={i}>
                  <TimeInput label={`${name} opens${which}`} value={h.start} onChange={(v) => editHours(i, { start: v })} />
                  <TimeInput label={`${name} closes${which}`} value={h.end === MIDNIGHT ? '' : h.end} disabled={h.end === MIDNIGHT} onChange={(v) => editHours(i, { end: v })} />
                  <label className="choice">
                    <input type="checkbox" checked={h.end === MIDNIGHT} onChange={(e) => editHours(i, { end: e.target.checked ? MIDNIGHT : '17:00' })} /> {name} until midnight{which}
                  </label>
                  <button type="button" className="link" onClick={() => setWeekly(weekly.filter((_, j) => j !== i))}>
                    Remove {name} hours{which}
                  </button>
                </div>
              );
            })}
            <button type="button" className="secondary" onClick={() => setWeekly([...weekly, { weekday, start: '09:00', end: '17:00' }])}>
              Add hours on {name}
            </button>
          </fieldset>
        );
      })}
      <fieldset>
        <legend>Exceptions</legend>
        {exceptions.length === 0 && <p className="meta">No closed days or special hours.</p>}
        {exceptions.map((e, i) => (
          <div className="row" key={i}>
            <div className="field">
              <label htmlFor={`exception-date-${i}`}>Exception {i + 1} date</label>
              <input id={`exception-date-${i}`} type="date" value={e.date} onChange={(ev) => editException(i, { date: ev.target.value })} />
            </div>
            <SelectField
              label={`Exception ${i + 1} kind`}
              value={e.closed ? 'closed' : 'hours'}
              onChange={(v) => editException(i, { closed: v === 'closed' })}
              options={[
                { value: 'closed', label: 'Closed all day' },
                { value: 'hours', label: 'Special hours' },
              ]}
            />
            {!e.closed && (
              <>
                <TimeInput label={`Exception ${i + 1} opens`} value={e.start} onChange={(v) => editException(i, { start: v })} />
                <TimeInput label={`Exception ${i + 1} closes`} value={e.end} onChange={(v) => editException(i, { end: v })} />
              </>
            )}
            <button type="button" className="link" onClick={() => setExceptions(exceptions.filter((_, j) => j !== i))}>
              Remove exception {i + 1}
            </button>
          </div>
        ))}
        <button type="button" className="secondary" onClick={() => setExceptions([...exceptions, { date: '', closed: true, start: '09:00', end: '17:00' }])}>
          Add an exception
        </button>
      </fieldset>
      <button type="submit" disabled={save.isPending}>
        {save.isPending ? 'Saving…' : 'Save opening hours'}
      </button>
      <p role="status" className="meta">
        {save.isSuccess && !save.isPending ? 'Opening hours saved.' : ''}
      </p>
      {save.isError && <ErrorBox error={save.error} />}
    </form>
  );
}

function TimeInput({ label, value, onChange, disabled }: { label: string; value: string; onChange: (value: string) => void; disabled?: boolean }) {
  const id = `time-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type="time" value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)} required />
    </div>
  );
}
