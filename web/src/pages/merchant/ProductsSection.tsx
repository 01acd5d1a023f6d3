import { useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { variantLabel, type Product, type Store } from '../../api/shop';
import { Field, SelectField } from '../../components/Field';
import { Empty, ErrorBox, Loading } from '../../components/states';
import { minorDigits, money, toMinor, words } from '../../lib/format';
import { toProblem, unwrap, type ApiProblem } from '../../lib/problem';
import { useTitle } from '../../lib/useTitle';
import { LoadMore } from '../../components/LoadMore';
import { useAdminStore } from './StoreAdminPage';
import { useStoreProducts } from './merchantApi';
import { SubmitAndSay } from '../../components/SubmitAndSay';

type ProductStatus = Product['status'];
const STATUS_OPTIONS = (['active', 'draft', 'archived'] as const).map((s) => ({ value: s, label: words(s) }));

/** Minor units as the number a person types: 2500 → "25". */
const major = (cents: number, currency: string) => String(cents / 10 ** minorDigits(currency));

/** Products: the list by status, each editable (name, description, price), and a form for a product with variants. */
export function ProductsSection() {
  const store = useAdminStore();
  useTitle(`Products: ${store.name}`);
  const [status, setStatus] = useState<ProductStatus>('active');
  const products = useStoreProducts(store.id, status);
  return (
    <div className="columns">
      <section aria-labelledby="products-title">
        <h2 id="products-title">Products</h2>
        <div className="filters">
          <SelectField label="Show" value={status} onChange={(v) => setStatus(v as ProductStatus)} options={STATUS_OPTIONS} />
        </div>
        {products.isPending ? (
          <Loading what="products" />
        ) : products.isError ? (
          <ErrorBox error={products.error} retry={() => void products.refetch()} />
        ) : products.items.length === 0 ? (
          <Empty>No {words(status)} products. Add one with the form.</Empty>
        ) : (
          <>
            <ul className="lines" aria-label={`${words(status)} products`}>
              {products.items.map((p) => (
                <ProductLine key={p.id} product={p} store={store} />
              ))}
            </ul>
            <LoadMore list={products} what="products" />
          </>
        )}
      </section>
      <aside>
        <NewProductForm store={store} />
      </aside>
    </div>
  );
}

function ProductLine({ product, store }: { product: Product; store: Store }) {
  const [editing, setEditing] = useState(false);
  return (
    <li className="line">
      <div>
        <strong>{product.name}</strong> <span className="status">{words(product.status)}</span>
        <p className="meta">
          {money(product.base_price_cents, product.currency)} · {product.variants.length} variant{product.variants.length === 1 ? '' : 's'}:{' '}
          {product.variants.map((v) => `${v.sku} (${variantLabel(v)}, ${money(v.price_cents, product.currency)})`).join('; ')}
        </p>
        {product.status === 'active' && (
          <Link to={`/stores/${store.slug}/products/${product.id}`}>
            View in the store<span className="visually-hidden">: {product.name}</span>
          </Link>
        )}
      </div>
      <p className="line-total">
        <button type="button" className="secondary" aria-expanded={editing} onClick={() => setEditing(!editing)}>
          {editing ? 'Close' : 'Edit'}
          <span className="visually-hidden"> {product.name}</span>
        </button>
      </p>
      {editing && <EditProductForm product={product} store={store} onDone={() => setEditing(false)} />}
    </li>
  );
}

function EditProductForm({ product, store, onDone }: { product: Product; store: Store; onDone: () => void }) {
  const queries = useQueryClient();
  const [form, setForm] = useState({ name: product.name, description: product.description, price: major(product.base_price_cents, product.currency), status: product.status });
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PATCH('/v1/stores/{store_id}/products/{product_id}', {
          params: { path: { store_id: store.id, product_id: product.id } },
          body: { name: form.name, description: form.description, base_price_cents: toMinor(form.price, product.currency) || 0, status: form.status },
        }),
      ),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ['merchant', store.id] });
      onDone();
    },
  });
  const problem = save.error ? toProblem(save.error) : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="line-actions" onSubmit={submit} noValidate aria-label={`Edit ${product.name}`}>
      {problem && <ErrorBox error={problem} />}
      <div className="row" style={{ width: '100%' }}>
        <Field label="Name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} error={problem?.field('name')} />
        <Field
          label={`Base price (${product.currency})`}
          inputMode="decimal"
          required
          value={form.price}
          onChange={(e) => setForm({ ...form, price: e.target.value })}
          error={problem?.field('base_price_cents') ?? priceError(problem)}
        />
        <SelectField label="Status" value={form.status} onChange={(v) => setForm({ ...form, status: v as ProductStatus })} options={STATUS_OPTIONS} error={problem?.field('status')} />
      </div>
      <Field label="Description" value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} error={problem?.field('description')} />
      <button type="submit" disabled={save.isPending}>
        {save.isPending ? 'Saving…' : 'Save changes'}
      </button>
    </form>
  );
}

/** `invalid_variant_price` in words: the price would make a variant free or negative. */
const priceError = (problem: ApiProblem | undefined) =>
  problem?.code === 'invalid_variant_price' ? `With this price a variant would cost nothing or less: ${problem.detail}` : undefined;

interface VariantDraft {
  sku: string;
  attributes: string;
  modifier: string;
  stock: string;
  hot: boolean;
}
const emptyVariant = (): VariantDraft => ({ sku: '', attributes: '', modifier: '', stock: '0', hot: false });

/** "size: M, color: black" as attributes; undefined when a part has no "name: value". */
function parseAttributes(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf(':');
    if (at <= 0) return undefined;
    out[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return out;
}

function NewProductForm({ store }: { store: Store }) {
  const queries = useQueryClient();
  const [form, setForm] = useState({ name: '', description: '', price: '', status: 'active' as ProductStatus });
  const [variants, setVariants] = useState<VariantDraft[]>([emptyVariant()]);
  const [said, setSaid] = useState('');
  const [attributeErrors, setAttributeErrors] = useState<number[]>([]);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/v1/stores/{store_id}/products', {
          params: { path: { store_id: store.id } },
          body: {
            name: form.name,
            description: form.description,
            base_price_cents: toMinor(form.price, store.currency) || 0,
            status: form.status,
            attributes: {},
            images: [],
            variants: variants.map((v) => ({
              sku: v.sku.trim(),
              attributes: parseAttributes(v.attributes) ?? {},
              price_modifier_cents: v.modifier.trim() ? toMinor(v.modifier, store.currency) || 0 : 0,
              // An unreadable number goes as NaN → null, so the API's message marks the field.
              inventory_count: Number(v.stock),
              hot: v.hot,
            })),
          },
        }),
      ),
    onSuccess: (product) => {
      void queries.invalidateQueries({ queryKey: ['merchant', store.id] });
      void queries.invalidateQueries({ queryKey: ['merchant', 'stores'] });
      setSaid(`Added ${product.name} with ${product.variants.length} variant${product.variants.length === 1 ? '' : 's'}.`);
      setForm({ name: '', description: '', price: '', status: 'active' });
      setVariants([emptyVariant()]);
    },
  });
  const problem = create.error ? toProblem(create.error) : undefined;
  const setVariant = (i: number, change: Partial<VariantDraft>) => setVariants(variants.map((v, j) => (j === i ? { ...v, ...change } : v)));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaid('');
    const unreadable = variants.flatMap((v, i) => (parseAttributes(v.attributes) ? [] : [i]));
    setAttributeErrors(unreadable);
    if (unreadable.length === 0) create.mutate();
  };
  const skuError = (i: number) =>
    problem?.field(`variants.${i}.sku`) ?? (problem?.code === 'sku_taken' && problem.detail.includes(variants[i]!.sku.trim()) ? 'Another variant of this store has this SKU.' : undefined);
  return (
    <section className="panel" aria-labelledby="new-product-title">
      <h2 id="new-product-title">Add a product</h2>
      <form onSubmit={submit} noValidate>
        {problem && <ErrorBox error={problem} />}
        <Field label="Product name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} error={problem?.field('name')} />
        <Field label="Product description" value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} error={problem?.field('description')} />
        <div className="row">
          <Field
            label={`Price (${store.currency})`}
            inputMode="decimal"
            required
            value={form.price}
            onChange={(e) => setForm({ ...form, price: e.target.value })}
            error={problem?.field('base_price_cents') ?? priceError(problem)}
          />
          <SelectField label="Publish as" value={form.status} onChange={(v) => setForm({ ...form, status: v as ProductStatus })} options={STATUS_OPTIONS} />
        </div>
        <fieldset>
          <legend>Variants</legend>
          {variants.map((v, i) => (
            <div key={i} className="tier-editor">
              <div className="row">
                <Field label={`Variant ${i + 1} SKU`} required value={v.sku} onChange={(e) => setVariant(i, { sku: e.target.value })} error={skuError(i)} />
                <Field label={`Variant ${i + 1} stock`} inputMode="numeric" value={v.stock} onChange={(e) => setVariant(i, { stock: e.target.value })} error={problem?.field(`variants.${i}.inventory_count`)} />
              </div>
              <div className="row">
                <Field
                  label={`Variant ${i + 1} attributes`}
                  value={v.attributes}
                  onChange={(e) => setVariant(i, { attributes: e.target.value })}
                  hint="e.g. size: M, color: black"
                  error={attributeErrors.includes(i) ? 'Write each attribute as name: value, separated by commas.' : problem?.field(`variants.${i}.attributes`)}
                />
                <Field
                  label={`Variant ${i + 1} price difference`}
                  inputMode="decimal"
                  value={v.modifier}
                  onChange={(e) => setVariant(i, { modifier: e.target.value })}
                  hint="Added to the price; negative for less. Empty: same price."
                  error={problem?.field(`variants.${i}.price_modifier_cents`)}
                />
              </div>
              <label className="choice">
                <input type="checkbox" checked={v.hot} onChange={(e) => setVariant(i, { hot: e.target.checked })} />
                Variant {i + 1} is for flash sales (high demand; counts toward the plan's flash-sale limit)
              </label>
              {variants.length > 1 && (
                <button type="button" className="link" onClick={() => setVariants(variants.filter((_, j) => j !== i))}>
                  Remove variant {i + 1}
                </button>
              )}
            </div>
          ))}
          <button type="button" className="secondary" onClick={() => setVariants([...variants, emptyVariant()])}>
            Add a variant
          </button>
        </fieldset>
        <SubmitAndSay busy={create.isPending} label="Add product" busyLabel="Adding…" said={said} />
      </form>
    </section>
  );
}
