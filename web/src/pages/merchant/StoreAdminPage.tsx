import { Link, NavLink, Outlet, useOutletContext, useParams } from 'react-router-dom';
import type { Store } from '../../api/shop';
import { ErrorBox, Loading } from '../../components/states';
import { useTitle } from '../../lib/useTitle';
import { MerchantGate } from './MerchantGate';
import { useOwnStore } from './merchantApi';

const SECTIONS = [
  { to: 'products', label: 'Products' },
  { to: 'inventory', label: 'Inventory' },
  { to: 'orders', label: 'Orders' },
  { to: 'drops', label: 'Drops' },
  { to: 'plan', label: 'Plan' },
];

/** One store's admin: its name, a section nav (products, inventory, orders, drops, plan) and the section. */
export function StoreAdminPage() {
  const { storeId = '' } = useParams();
  return (
    <MerchantGate what="your store">
      <StoreAdmin storeId={storeId} />
    </MerchantGate>
  );
}

function StoreAdmin({ storeId }: { storeId: string }) {
  const store = useOwnStore(storeId);
  useTitle(store.data ? `Admin: ${store.data.name}` : 'Store admin');
  if (store.isPending) return <Loading what="the store" />;
  if (store.isError) return <ErrorBox error={store.error} retry={() => void store.refetch()} />;
  const s = store.data;
  return (
    <>
      <p className="meta">
        <Link to="/merchant/stores">My stores</Link> · <Link to={`/stores/${s.slug}`}>Storefront</Link>
      </p>
      <h1>Admin: {s.name}</h1>
      <nav aria-label="Store admin">
        <ul className="chips">
          {SECTIONS.map((sec) => (
            <li key={sec.to}>
              <NavLink to={sec.to} style={({ isActive }) => (isActive ? { fontWeight: 700, borderColor: 'currentColor' } : undefined)}>
                {sec.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <Outlet context={s} />
    </>
  );
}

/** The store the admin frame loaded, for its sections. */
export const useAdminStore = () => useOutletContext<Store>();
