import { Link } from 'react-router-dom';
import { useProducts, type Product, type Store } from '../../api/shop';
import { Field, SelectField } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { money } from '../../lib/format';
import { useUrlFilters } from '../../lib/useUrlFilters';
import { useTitle } from '../../lib/useTitle';
import { StoreFrame } from './StoreFrame';

export function StorefrontPage() {
  return <StoreFrame>{(store) => <Storefront store={store} />}</StoreFrame>;
}

/** A store's active products: search and category kept in the address. */
function Storefront({ store }: { store: Store }) {
  useTitle(store.name);
  const { params, set, text, setText, search } = useUrlFilters();
  const q = params.get('q') ?? '';
  const category = params.get('category') ?? '';
  const products = useProducts(store.id, { q: q || undefined, category: category || undefined });
  // The categories to offer: those of the store's whole catalog (the unfiltered list, usually cached).
  const all = useProducts(store.id, {});
  const categories = [...new Set((all.data?.data ?? []).map((p) => p.category).filter((c): c is string => c !== null))].sort();


  return (
    <>
      <h1>{store.name}</h1>
      <form className="filters" role="search" onSubmit={search}>
        <SelectField label="Category" value={category} onChange={(v) => set('category', v)} options={[{ value: '', label: 'All categories' }, ...categories.map((c) => ({ value: c, label: c }))]} />
        <Field label="Search products" type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Product name" />
        <button type="submit">Search</button>
      </form>
      <div aria-live="polite">
        {products.isPending ? (
          <Loading what="products" />
        ) : products.isError ? (
          <ErrorBox error={products.error} retry={() => void products.refetch()} />
        ) : products.data.data.length === 0 ? (
          <Empty>{q || category ? 'No product matches. Try another search or category.' : 'This store has no products yet.'}</Empty>
        ) : (
          <ul className="grid">
            {products.data.data.map((p) => (
              <ProductCard key={p.id} product={p} store={store} />
            ))}
          </ul>
        )}
      </div>
    </>
  );
}

/** "$12.00", or "from $12.00" when the variants are priced differently. */
export function priceFrom(product: Product): string {
  const prices = product.variants.map((v) => v.price_cents);
  const low = Math.min(...prices);
  const text = money(low, product.currency);
  return prices.some((p) => p !== low) ? `from ${text}` : text;
}

function ProductCard({ product, store }: { product: Product; store: Store }) {
  return (
    <li className="card">
      <h2 className="card-title">
        <Link to={`/stores/${store.slug}/products/${product.id}`}>{product.name}</Link>
      </h2>
      <p className="meta">
        {product.category && <span className="tag">{product.category}</span>} <strong className="price">{priceFrom(product)}</strong> ·{' '}
        <span className={product.in_stock ? 'in-stock' : 'out-of-stock'}>{product.in_stock ? 'In stock' : 'Out of stock'}</span>
      </p>
    </li>
  );
}
