import { useId, useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { cartIds, openCart, useProduct, variantLabel, type Product, type Store } from '../../api/shop';
import { Field } from '../../components/Field';
import { ErrorBox, Loading } from '../../components/states';
import { money } from '../../lib/format';
import { toProblem, unwrap } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { StoreFrame } from './StoreFrame';

export function ProductPage() {
  return <StoreFrame>{(store) => <ProductView store={store} />}</StoreFrame>;
}

function ProductView({ store }: { store: Store }) {
  const { productId = '' } = useParams();
  const product = useProduct(store.id, productId);
  useTitle(product.data?.name ?? 'Product');
  if (product.isPending) return <Loading what="the product" />;
  if (product.isError) return <ErrorBox error={product.error} retry={() => void product.refetch()} />;
  const p = product.data;
  return (
    <div className="columns">
      <article>
        <h1>{p.name}</h1>
        {p.category && <p className="meta"><span className="tag">{p.category}</span></p>}
        {p.images[0] && <img className="product-image" src={p.images[0]} alt={p.name} />}
        <p className="story">{p.description || 'No description.'}</p>
      </article>
      <AddToCart product={p} store={store} />
    </div>
  );
}

/** How many of a variant are left, in words. */
function stockText(available: number | undefined, inStock: boolean): string {
  if (available === undefined) return inStock ? 'In stock' : 'Out of stock';
  return available > 0 ? `${available} in stock` : 'Out of stock';
}

/** The variant picker (one radio per variant, with its price and stock), a quantity, and Add to cart. */
function AddToCart({ product, store }: { product: Product; store: Store }) {
  const queries = useQueryClient();
  const group = useId();
  const firstInStock = product.variants.find((v) => v.in_stock);
  const [variantId, setVariantId] = useState(firstInStock?.id ?? '');
  const [quantity, setQuantity] = useState('1');
  const variant = product.variants.find((v) => v.id === variantId);

  const add = useMutation({
    mutationFn: async (body: { variant_id: string; quantity: number }) => {
      const send = async () => unwrap(api.POST('/v1/carts/{cart_id}/items', { params: { path: { cart_id: await openCart(store.id) } }, body }));
      try {
        return await send();
      } catch (err) {
        // The remembered cart expired (or belongs to another account): open a new one and add once more.
        if (toProblem(err).status !== 404 || !cartIds.get(store.id)) throw err;
        cartIds.forget(store.id);
        return send();
      }
    },
    onSuccess: (cart) => {
      queries.setQueryData(['cart', store.id], cart);
      void queries.invalidateQueries({ queryKey: ['product', store.id, product.id] });
    },
  });
  const problem = add.error ? toProblem(add.error) : undefined;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate({ variant_id: variantId, quantity: Number(quantity) });
  };

  return (
    <section className="panel" aria-labelledby="buy">
      <h2 id="buy">Buy</h2>
      {!firstInStock ? (
        <p>Sold out: no variant has units left.</p>
      ) : (
        <form onSubmit={submit} noValidate>
          <fieldset className={problem?.field('variant_id') ? 'invalid' : undefined}>
            <legend id={group}>{product.variants.length > 1 ? 'Choose a variant' : 'Variant'}</legend>
            {product.variants.map((v) => (
              <label key={v.id} className="choice">
                <input type="radio" name={group} value={v.id} checked={v.id === variantId} disabled={!v.in_stock} onChange={() => setVariantId(v.id)} />
                <span>
                  {variantLabel(v)} · <strong>{money(v.price_cents, product.currency)}</strong> · <span className="meta">{stockText(v.available, v.in_stock)}</span>
                </span>
              </label>
            ))}
          </fieldset>
          <Field
            label="Quantity"
            type="number"
            inputMode="numeric"
            min={1}
            max={variant?.available ?? 100}
            value={quantity}
            onChange={(e) => setQuantity(e.target.value)}
            error={problem?.field('quantity') ?? (problem?.code === 'insufficient_stock' ? problem.detail : undefined)}
          />
          {variant && <p className="meta">Total: {money(variant.price_cents * (Number(quantity) || 0), product.currency)}</p>}
          <button type="submit" disabled={add.isPending || !variant}>
            {add.isPending ? 'Adding…' : 'Add to cart'}
          </button>
          <div aria-live="polite">
            {add.isSuccess && (
              <p className="success">
                Added to your cart: it is held for you for a while. <Link to={`/stores/${store.slug}/cart`}>View cart and check out</Link>
              </p>
            )}
          </div>
          {add.isError && <ErrorBox error={add.error} />}
        </form>
      )}
    </section>
  );
}
