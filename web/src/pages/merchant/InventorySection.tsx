import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { variantLabel } from '../../api/shop';
import { Field } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { words } from '../../lib/format';
import { toProblem, unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { LoadMore } from '../../components/LoadMore';
import { useAdminStore } from './StoreAdminPage';
import { merchantKeys, useInventory, type StockLine } from './merchantApi';
import { TableScroll } from '../../components/TableScroll';

/** Stock per variant (total, in carts, sold, available) with a restock form on each line. */
export function InventorySection() {
  const store = useAdminStore();
  useTitle(`Inventory: ${store.name}`);
  const stock = useInventory(store.id);
  return (
    <section aria-labelledby="inventory-title">
      <h2 id="inventory-title">Inventory</h2>
      <p className="hint">Reserved units are held in shoppers' carts; the total can never go below reserved plus sold.</p>
      {stock.isPending ? (
        <Loading what="stock" />
      ) : stock.isError ? (
        <ErrorBox error={stock.error} retry={() => void stock.refetch()} />
      ) : stock.items.length === 0 ? (
        <Empty>No variants yet: add a product first.</Empty>
      ) : (
        <>
          <TableScroll label="Stock table">
            <table>
              <caption className="visually-hidden">Stock per variant, by SKU</caption>
              <thead>
                <tr>
                  <th scope="col">SKU</th>
                  <th scope="col">Product</th>
                  <th scope="col">Total</th>
                  <th scope="col">Reserved</th>
                  <th scope="col">Sold</th>
                  <th scope="col">Available</th>
                  <th scope="col">Restock</th>
                </tr>
              </thead>
              <tbody>
                {stock.items.map((line) => (
                  <tr key={line.variant_id}>
                    <th scope="row">
                      {line.sku}
                      {line.hot && (
                        <>
                          {' '}
                          <span className="tag">flash sale</span>
                        </>
                      )}
                    </th>
                    <td>
                      {line.product.name} ({variantLabel(line)}){line.product.status !== 'active' && ` · ${words(line.product.status)}`}
                    </td>
                    <td className="num">{line.total_stock}</td>
                    <td className="num">{line.reserved}</td>
                    <td className="num">{line.sold}</td>
                    <td className="num" data-testid={`available-${line.sku}`}>
                      {line.available}
                    </td>
                    <td>
                      <RestockForm line={line} storeId={store.id} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
          <LoadMore list={stock} what="variants" />
        </>
      )}
    </section>
  );
}

function RestockForm({ line, storeId }: { line: StockLine; storeId: string }) {
  const queries = useQueryClient();
  const [total, setTotal] = useState(String(line.total_stock));
  const [said, setSaid] = useState('');
  const save = useMutation({
    mutationFn: () =>
      unwrap(api.PUT('/v1/stores/{store_id}/inventory/{variant_id}', { params: { path: { store_id: storeId, variant_id: line.variant_id } }, body: { total_stock: Number(total) } })),
    onSuccess: (now) => {
      setSaid(`${line.sku}: ${now.total_stock} in total, ${now.available} available.`);
      void queries.invalidateQueries({ queryKey: merchantKeys.inventory(storeId) });
    },
    // Carts move stock all the time: a refusal re-reads it, so the numbers beside the form are current.
    onError: () => void queries.invalidateQueries({ queryKey: merchantKeys.inventory(storeId) }),
  });
  const problem = save.error ? toProblem(save.error) : undefined;
  const committed = line.reserved + line.sold;
  const error =
    problem?.code === 'stock_below_committed'
      ? `Too low: ${committed} unit${committed === 1 ? ' is' : 's are'} already in carts or sold (${line.reserved} reserved, ${line.sold} sold). Set at least ${committed}.`
      : (problem?.field('total_stock') ?? (problem ? `${problem.title}. ${problem.detail}` : undefined));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaid('');
    save.mutate();
  };
  return (
    <form onSubmit={submit} noValidate style={{ gridTemplateColumns: 'minmax(6rem, 1fr) auto', alignItems: 'end', gap: '.5rem' }}>
      <Field label={`New total for ${line.sku}`} inputMode="numeric" value={total} onChange={(e) => setTotal(e.target.value)} error={error} />
      <button type="submit" disabled={save.isPending}>
        {save.isPending ? 'Saving…' : 'Set stock'}
        <span className="visually-hidden"> for {line.sku}</span>
      </button>
      <span role="status" aria-live="polite" className="hint" style={{ gridColumn: '1 / -1' }}>
        {said}
      </span>
    </form>
  );
}
