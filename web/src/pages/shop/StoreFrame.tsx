import type { ReactNode } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useCart, useStoreBySlug, type Store } from '../../api/shop';
import { ErrorBox, Loading } from '../../components/states';

/** A store's pages (storefront, product, cart): the store by its slug, its loading and error states, and the cart link. */
export function StoreFrame({ children }: { children: (store: Store) => ReactNode }) {
  const { slug = '' } = useParams();
  const store = useStoreBySlug(slug);
  if (store.isPending) return <Loading what="the store" />;
  if (store.isError) return <ErrorBox error={store.error} retry={() => void store.refetch()} />;
  return (
    <>
      <nav aria-label="Store" className="store-bar">
        <Link to={`/stores/${store.data.slug}`} className="store-name">
          {store.data.name}
        </Link>
        <CartLink store={store.data} />
      </nav>
      {children(store.data)}
    </>
  );
}

function CartLink({ store }: { store: Store }) {
  const cart = useCart(store.id);
  const units = cart.data?.items.reduce((n, i) => n + i.quantity, 0) ?? 0;
  return (
    <Link to={`/stores/${store.slug}/cart`} className="button secondary">
      Cart ({units} {units === 1 ? 'item' : 'items'})
    </Link>
  );
}
