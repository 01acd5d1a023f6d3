import { Link, useParams } from 'react-router-dom';
import { useProvider, useProviderReviews } from '../../api/bookings';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { dateTime, money } from '../../lib/format';
import { useTitle } from '../../lib/useTitle';
import { LoadMore } from '../../components/LoadMore';
import { Rating } from './Rating';

/** A provider's public page: who they are, where, their services and their reviews. */
export function ProviderPage() {
  const { id = '' } = useParams();
  const provider = useProvider(id);
  const reviews = useProviderReviews(id);
  useTitle(provider.data?.display_name ?? 'Provider');
  if (provider.isPending) return <Loading what="the provider" />;
  if (provider.isError) return <ErrorBox error={provider.error} retry={() => void provider.refetch()} />;
  const p = provider.data;
  const services = (p.services ?? []).filter((s) => s.active);
  return (
    <>
      <h1>{p.display_name}</h1>
      <p className="lead">
        {p.location.city}, {p.location.country} · times in {p.time_zone} · <Rating provider={p} />
      </p>
      {p.bio && <p className="story">{p.bio}</p>}
      <div className="columns">
        <section aria-labelledby="services">
          <h2 id="services">Services</h2>
          {services.length === 0 ? (
            <Empty>No services offered yet.</Empty>
          ) : (
            <ul className="lines">
              {services.map((s) => (
                <li key={s.id} className="line">
                  <div>
                    <Link to={`/services/${s.id}`}>{s.title}</Link>
                    <p className="meta">
                      {s.duration_minutes} min · {s.category}
                    </p>
                  </div>
                  <p className="line-total">from {money(s.base_price_cents, s.currency)}</p>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section aria-labelledby="reviews">
          <h2 id="reviews">Reviews</h2>
          {reviews.isPending ? (
            <Loading what="reviews" />
          ) : reviews.isError ? (
            <ErrorBox error={reviews.error} retry={() => void reviews.refetch()} />
          ) : reviews.items.length === 0 ? (
            <Empty>No reviews yet.</Empty>
          ) : (
            <>
              <ul className="inbox">
                {reviews.items.map((r) => (
                  <li key={r.id}>
                    <p>
                      <strong>{r.rating} of 5</strong> · {r.customer_name} · <time dateTime={r.created_at}>{dateTime(r.created_at)}</time>
                    </p>
                    {r.comment && <p>{r.comment}</p>}
                  </li>
                ))}
              </ul>
              <LoadMore list={reviews} what="reviews" />
            </>
          )}
        </section>
      </div>
    </>
  );
}
