import { Link } from 'react-router-dom';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api/client';
import { CATEGORIES, useCampaigns } from '../api/campaigns';
import { CampaignGrid } from '../components/CampaignCard';
import { Empty, ErrorBox, Loading } from '../components/states';
import { money, words } from '../lib/format';
import { unwrap } from '../lib/problem';
import { useTitle } from '../lib/useTitle';

const SHOWN = 3;

/** Featured (the best funded live campaigns) and ending soon, from one read of the live list; then stores and services. */
export function HomePage() {
  useTitle('Back what matters');
  const live = useCampaigns({ status: 'live', limit: 100 });
  const campaigns = live.data?.data ?? [];
  const featured = [...campaigns].sort((a, b) => b.percent_funded - a.percent_funded).slice(0, SHOWN);
  const endingSoon = [...campaigns].sort((a, b) => a.seconds_left - b.seconds_left).slice(0, SHOWN);

  return (
    <>
      <section className="hero">
        <h1>Back what matters</h1>
        <p>Pledge to campaigns you believe in; cards are charged only if the campaign reaches its goal.</p>
        <Link to="/campaigns" className="button">
          Discover campaigns
        </Link>
      </section>
      {live.isPending ? (
        <Loading what="campaigns" />
      ) : live.isError ? (
        <ErrorBox error={live.error} retry={() => void live.refetch()} />
      ) : campaigns.length === 0 ? (
        <Empty>No campaign is live right now. Check back soon, or start one.</Empty>
      ) : (
        <>
          <section aria-labelledby="featured">
            <h2 id="featured">Featured</h2>
            <CampaignGrid campaigns={featured} />
          </section>
          <section aria-labelledby="ending">
            <h2 id="ending">Ending soon</h2>
            <CampaignGrid campaigns={endingSoon} />
          </section>
        </>
      )}
      <section aria-labelledby="categories">
        <h2 id="categories">Categories</h2>
        <ul className="chips">
          {CATEGORIES.map((c) => (
            <li key={c}>
              <Link to={`/campaigns?category=${c}`}>{words(c)}</Link>
            </li>
          ))}
        </ul>
      </section>
      <NewStores />
      <TopServices />
    </>
  );
}

/** The newest stores, each a link to its storefront. */
function NewStores() {
  const stores = useQuery({ queryKey: ['home', 'stores'], queryFn: () => unwrap(api.GET('/v1/stores', { params: { query: { limit: 6 } } })) });
  return (
    <section aria-labelledby="home-stores">
      <h2 id="home-stores">Stores</h2>
      {stores.isPending ? (
        <Loading what="stores" />
      ) : stores.isError ? (
        <ErrorBox error={stores.error} retry={() => void stores.refetch()} />
      ) : stores.data.data.length === 0 ? (
        <Empty>No store is open yet.</Empty>
      ) : (
        <ul className="chips">
          {stores.data.data.map((s) => (
            <li key={s.id}>
              <Link to={`/stores/${s.slug}`}>{s.name}</Link>
            </li>
          ))}
        </ul>
      )}
      <p>
        <Link to="/stores">All stores</Link>
      </p>
    </section>
  );
}

/** The best rated services of approved providers, with their lowest price. */
function TopServices() {
  const services = useQuery({
    queryKey: ['home', 'services'],
    queryFn: () => unwrap(api.GET('/v1/services/search', { params: { query: { sort: 'rating', limit: SHOWN * 2 } } })),
  });
  return (
    <section aria-labelledby="home-services">
      <h2 id="home-services">Services</h2>
      {services.isPending ? (
        <Loading what="services" />
      ) : services.isError ? (
        <ErrorBox error={services.error} retry={() => void services.refetch()} />
      ) : services.data.data.length === 0 ? (
        <Empty>No service is offered yet.</Empty>
      ) : (
        <ul className="chips">
          {services.data.data.map((hit) => (
            <li key={hit.service.id}>
              <Link to={`/services/${hit.service.id}`}>
                {hit.service.title} · {hit.provider.display_name} · from {money(hit.from_price_cents, hit.service.currency)}
              </Link>
            </li>
          ))}
        </ul>
      )}
      <p>
        <Link to="/services">All services</Link>
      </p>
    </section>
  );
}
