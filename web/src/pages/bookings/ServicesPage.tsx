import { useState } from 'react';
import { Link } from 'react-router-dom';
import { useServiceSearch, type SearchHit, type ServiceFilters } from '../../api/bookings';
import { Field, SelectField } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { money } from '../../lib/format';
import { useTitle } from '../../lib/useTitle';
import { useUrlFilters } from '../../lib/useUrlFilters';
import { LoadMore } from '../../components/LoadMore';
import { Rating } from './Rating';
import { whenBoth } from './zones';

/** A few cities to search near without typing coordinates; "my location" asks the browser. */
const CITIES = [
  { value: '', label: 'Anywhere' },
  { value: '52.52,13.405', label: 'Berlin' },
  { value: '48.857,2.352', label: 'Paris' },
  { value: '51.507,-0.128', label: 'London' },
  { value: '40.713,-74.006', label: 'New York' },
  { value: '34.052,-118.244', label: 'Los Angeles' },
  { value: '35.676,139.650', label: 'Tokyo' },
];

const SORTS = [
  { value: '', label: 'Best match' },
  { value: 'rating', label: 'Rating' },
  { value: 'price', label: 'Price' },
  { value: 'distance', label: 'Distance (needs a place)' },
];

const RATINGS = [
  { value: '', label: 'Any rating' },
  { value: '3', label: '3 stars and up' },
  { value: '4', label: '4 stars and up' },
  { value: '4.5', label: '4.5 stars and up' },
];

function filtersFrom(params: URLSearchParams): ServiceFilters {
  const num = (key: string) => (params.get(key) ? Number(params.get(key)) : undefined);
  return {
    q: params.get('q') || undefined,
    category: params.get('category') || undefined,
    near: params.get('near') || undefined,
    radius_km: params.get('near') ? num('radius_km') : undefined,
    min_rating: num('min_rating'),
    available_on: params.get('available_on') || undefined,
    sort: (params.get('sort') || undefined) as ServiceFilters['sort'],
  };
}

/** Services of approved providers: words, category, place and radius, rating, a free slot on a day, sorted. */
export function ServicesPage() {
  useTitle('Services');
  const { params, set, text, setText, search } = useUrlFilters();
  const filters = filtersFrom(params);
  const services = useServiceSearch(filters);
  const [category, setCategory] = useState(filters.category ?? '');
  const [locating, setLocating] = useState('');

  const near = filters.near ?? '';
  const nearOptions = CITIES.some((c) => c.value === near) ? CITIES : [...CITIES, { value: near, label: `Coordinates ${near}` }];
  const [coords, setCoords] = useState(CITIES.some((c) => c.value === near) ? '' : near);
  const useMyLocation = () => {
    if (!navigator.geolocation) return setLocating('This browser cannot share its location; pick a city instead.');
    setLocating('Finding your location…');
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        setLocating('');
        set('near', `${pos.coords.latitude.toFixed(3)},${pos.coords.longitude.toFixed(3)}`);
      },
      () => setLocating('Your location was not shared; pick a city instead.'),
    );
  };

  return (
    <>
      <h1>Services</h1>
      <form className="filters" role="search" onSubmit={search}>
        <Field label="Search services" type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Haircut, yoga, tutoring…" />
        <button type="submit">Search</button>
      </form>
      <form
        className="filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          set('category', category.trim());
        }}
      >
        <Field label="Category" value={category} onChange={(e) => setCategory(e.target.value)} onBlur={() => set('category', category.trim())} />
        <SelectField label="Near" value={near} onChange={(v) => set('near', v)} options={nearOptions} />
        <button type="button" className="secondary" onClick={useMyLocation}>
          Use my location
        </button>
        <Field
          label="Within (km)"
          type="number"
          min={1}
          max={20000}
          disabled={!near}
          value={params.get('radius_km') ?? ''}
          placeholder="50"
          onChange={(e) => set('radius_km', e.target.value)}
        />
        <SelectField label="Rating" value={params.get('min_rating') ?? ''} onChange={(v) => set('min_rating', v)} options={RATINGS} />
        <Field label="Free on" type="date" value={filters.available_on ?? ''} onChange={(e) => set('available_on', e.target.value)} />
        <SelectField label="Sort by" value={filters.sort ?? ''} onChange={(v) => set('sort', v)} options={SORTS} />
        <p role="status" className="meta">
          {locating}
        </p>
      </form>
      <form
        className="filters"
        aria-label="Search near coordinates"
        onSubmit={(e) => {
          e.preventDefault();
          set('near', coords.replace(/\s+/g, ''));
        }}
      >
        <Field label="Or near coordinates" hint="Latitude,longitude, e.g. 48.137,11.575" value={coords} onChange={(e) => setCoords(e.target.value)} />
        <button type="submit" className="secondary">
          Search near
        </button>
      </form>
      <div aria-live="polite">
        {services.isPending ? (
          <Loading what="services" />
        ) : services.isError ? (
          <ErrorBox error={services.error} retry={() => void services.refetch()} />
        ) : services.items.length === 0 ? (
          <Empty>No service matches these filters. Try fewer filters or a wider radius.</Empty>
        ) : (
          <>
            <ul className="grid">
              {services.items.map((hit) => (
                <ServiceCard key={hit.service.id} hit={hit} />
              ))}
            </ul>
            <LoadMore list={services} what="services" />
          </>
        )}
      </div>
    </>
  );
}

function ServiceCard({ hit }: { hit: SearchHit }) {
  const { service, provider } = hit;
  return (
    <li className="card">
      <h2 className="card-title">
        <Link to={`/services/${service.id}`}>{service.title}</Link>
      </h2>
      <p className="meta">
        by <Link to={`/providers/${provider.id}`}>{provider.display_name}</Link> · {provider.location.city}
        {hit.distance_km !== undefined && ` · ${Math.round(hit.distance_km)} km away`}
      </p>
      <p>
        from <strong>{money(hit.from_price_cents, service.currency)}</strong> · {service.duration_minutes} min · <span className="tag">{service.category}</span>
      </p>
      <p className="meta">
        <Rating provider={provider} />
      </p>
      <p className="meta">{hit.next_available_at ? `Next free: ${whenBoth(hit.next_available_at, provider.time_zone)}` : 'No free slot in the next two weeks'}</p>
    </li>
  );
}
