import { useId, useState } from 'react';
import { useSlots, type Slot } from '../../api/bookings';
import { SelectField } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { money } from '../../lib/format';
import { browserZone, dayIn, isoDateIn, twoZoneTime } from './zones';

/**
 * The service's free slots over the next two weeks, by day in the customer's zone; each slot is named in both
 * zones ("10:00 your time · 09:00 Europe/Berlin") with its price, as a radio group.
 */
export function SlotPicker({ serviceId, currency, picked, onPick }: { serviceId: string; currency: string; picked?: Slot; onPick: (slot: Slot) => void }) {
  const slots = useSlots(serviceId);
  const zone = browserZone();
  const [day, setDay] = useState('');
  const legend = useId();
  if (slots.isPending) return <Loading what="free slots" />;
  if (slots.isError) return <ErrorBox error={slots.error} retry={() => void slots.refetch()} />;
  const { time_zone: providerZone, slots: list } = slots.data;
  if (list.length === 0) return <Empty>No free slot in the next two weeks.</Empty>;

  const days = [...new Map(list.map((s) => [isoDateIn(s.start, zone), dayIn(s.start, zone)])).entries()].map(([value, label]) => ({ value, label }));
  const shownDay = days.some((d) => d.value === day) ? day : days[0]!.value;
  const shown = list.filter((s) => isoDateIn(s.start, zone) === shownDay);
  return (
    <div className="slot-picker">
      <p className="meta">
        Times in your zone ({zone}) and the provider’s ({providerZone}).
      </p>
      <SelectField label="Day" value={shownDay} onChange={setDay} options={days} />
      <fieldset aria-labelledby={legend}>
        <legend id={legend}>Free slots</legend>
        {shown.map((s) => (
          <label key={s.start} className="choice">
            <input type="radio" name={`slot-${serviceId}`} checked={picked?.start === s.start} onChange={() => onPick(s)} />
            {twoZoneTime(s.start, providerZone)} · {money(s.price_cents, currency)}
          </label>
        ))}
      </fieldset>
    </div>
  );
}
