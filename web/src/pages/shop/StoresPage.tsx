import { Link } from 'react-router-dom';
import { useStorePages } from '../../api/shop';
import { Field } from '../../components/Field';
import { LoadMore } from '../../components/LoadMore';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { useTitle } from '../../lib/useTitle';
import { useUrlFilters } from '../../lib/useUrlFilters';

/** Every public store, newest first, or the best matches for a search (kept in the address). */
export function StoresPage() {
  useTitle('Stores');
  const { params, text, setText, search } = useUrlFilters();
  const q = params.get('q') ?? '';
  const stores = useStorePages(q);

  return (
    <>
      <h1>Stores</h1>
      <form className="filters" role="search" onSubmit={search}>
        <Field label="Search stores" type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Store name" />
        <button type="submit">Search</button>
      </form>
      <div aria-live="polite">
        {stores.isPending ? (
          <Loading what="stores" />
        ) : stores.isError ? (
          <ErrorBox error={stores.error} retry={() => void stores.refetch()} />
        ) : stores.items.length === 0 ? (
          <Empty>{q ? 'No store matches that search.' : 'No store is open yet.'}</Empty>
        ) : (
          <>
            <ul className="grid">
              {stores.items.map((s) => (
                <li key={s.id} className="card">
                  <h2 className="card-title">
                    <Link to={`/stores/${s.slug}`}>{s.name}</Link>
                  </h2>
                  <p className="meta">
                    {s.product_count} {s.product_count === 1 ? 'product' : 'products'} · prices in {s.currency}
                  </p>
                </li>
              ))}
            </ul>
            <LoadMore list={stores} what="stores" />
          </>
        )}
      </div>
    </>
  );
}
