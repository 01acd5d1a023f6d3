import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { BOOKING_STATUSES, type Booking, type BookingStatus } from '../../api/bookings';
import { SelectField } from '../../components/Field';
import { money, words } from '../../lib/format';
import { whenBoth } from './zones';

export function StatusFilter({ value, onChange }: { value: BookingStatus | undefined; onChange: (status: BookingStatus | undefined) => void }) {
  return (
    <SelectField
      label="Status"
      value={value ?? ''}
      onChange={(v) => onChange((v || undefined) as BookingStatus | undefined)}
      options={[{ value: '', label: 'All' }, ...BOOKING_STATUSES.map((s) => ({ value: s, label: words(s) }))]}
    />
  );
}

/**
 * Bookings as lines: what, with whom, when (both zones), status and price; for the provider (`actions`), who
 * booked and the buttons each line offers.
 */
export function BookingLines({ bookings, actions }: { bookings: Booking[]; actions?: (b: Booking) => ReactNode }) {
  return (
    <ul className="lines">
      {bookings.map((b) => (
        <li key={b.id} className="line">
          <div>
            <Link to={`/bookings/${b.id}`}>
              {b.service.title} with {b.provider.display_name}
            </Link>
            <p className="meta">
              {whenBoth(b.start, b.provider.time_zone)} · <span className={`status status-${b.status}`}>{words(b.status)}</span>
              {actions && ` · booked by ${b.customer_name}`}
            </p>
            {actions && <div className="actions">{actions(b)}</div>}
          </div>
          <p className="line-total">{money(b.price_cents, b.currency)}</p>
        </li>
      ))}
    </ul>
  );
}
