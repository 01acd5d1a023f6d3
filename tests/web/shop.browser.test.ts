import { randomUUID } from 'node:crypto';
import { registerAccount, TEST_PASSWORD, type RegisteredAccount } from '../helpers/api';
import { webHarness } from './harness';

/**
 * The shopper's pages in Chromium against the real stack: a merchant's store and product are created through
 * the API; a shopper signs in, finds the store, picks a variant, adds it to a cart (whose hold counts down),
 * checks out with the simulated gateway's test card (a missing city first: the field is marked), sees the
 * order confirmed with its history, and finds it in My orders. A second case runs the browser's clock past a
 * hold's end: the cart says so in an aria-live region. axe-core and the console are checked on every page.
 */
const web = webHarness();

jest.setTimeout(120_000);

interface Shop {
  store: { id: string; name: string; slug: string };
  product: { id: string; name: string };
  variants: { id: string; sku: string }[];
}

async function createShop(merchant: RegisteredAccount): Promise<Shop> {
  const tag = randomUUID().slice(0, 6);
  const store = await web.ctx.http.post('/v1/stores').set('Authorization', merchant.auth).send({ name: `Tea House ${tag}`, slug: `tea-house-${tag}`, currency: 'EUR' });
  expect(store.status).toBe(201);
  const product = await web.ctx.http
    .post(`/v1/stores/${store.body.id}/products`)
    .set('Authorization', merchant.auth)
    .send({
      name: 'Green tea',
      description: 'Loose-leaf sencha from Shizuoka.',
      base_price_cents: 1_250,
      category: 'tea',
      variants: [
        { sku: `tea-100-${tag}`, attributes: { size: '100 g' }, inventory_count: 5 },
        { sku: `tea-250-${tag}`, attributes: { size: '250 g' }, price_modifier_cents: 1_500, inventory_count: 0 },
      ],
    });
  expect(product.status).toBe(201);
  return { store: store.body, product: product.body, variants: product.body.variants };
}

describe('shop in Chromium', () => {
  it('a shopper finds a store, adds to cart, checks out with the test card and finds the order in My orders', async () => {
    const merchant = await registerAccount(web.ctx.http, { role: 'merchant' });
    const shopper = await registerAccount(web.ctx.http, { role: 'backer', name: 'Sam Shopper' });
    const shop = await createShop(merchant);

    const page = await web.newPage();
    await page.goto('/signin?next=/stores');
    await page.getByLabel('Email').fill(shopper.email);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Stores', level: 1 }).waitFor();
    await page.getByRole('searchbox', { name: 'Search stores' }).fill(shop.store.name);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: shop.store.name }).waitFor();
    await web.check(page, 'stores');

    await page.getByRole('link', { name: shop.store.name }).click();
    await page.getByRole('heading', { name: shop.store.name, level: 1 }).waitFor();
    // Prices in the store's currency; "from" because the variants differ.
    await page.getByText('from €12.50').waitFor();
    await web.check(page, 'storefront');

    await page.getByRole('link', { name: 'Green tea' }).click();
    await page.getByRole('heading', { name: 'Green tea', level: 1 }).waitFor();
    // The sold-out variant cannot be picked; the other shows its stock.
    expect(await page.getByRole('radio', { name: /250 g/ }).isDisabled()).toBe(true);
    await page.getByRole('radio', { name: /100 g .*5 in stock/ }).check();
    await page.getByLabel('Quantity').fill('2');
    await web.check(page, 'product');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('link', { name: 'View cart and check out' }).click();

    await page.getByRole('heading', { name: 'Your cart' }).waitFor();
    const timer = page.getByRole('timer', { name: 'Time left on the hold' });
    expect(await timer.textContent()).toMatch(/^1[45]:\d\d$/);
    // It counts down.
    await timer.filter({ hasNotText: (await timer.textContent())! }).waitFor();
    expect(await page.getByRole('link', { name: 'Cart (2 items)' }).count()).toBe(1);
    await web.check(page, 'cart');

    // No city: the API's problem marks the field; nothing is charged.
    await page.getByLabel('Address line 1').fill('1 Tea Street');
    await page.getByLabel('Postal code').fill('10115');
    await page.getByLabel('Country').fill('DE');
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByLabel('City').getAttribute('aria-invalid')).toBe('true');
    await web.check(page, 'checkout-error');

    await page.getByLabel('City').fill('Berlin');
    await page.getByLabel('Card (test cards)').selectOption('pm_card_visa');
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.getByText('Thank you: your order is confirmed and paid.').waitFor();
    const orderId = page.url().split('/orders/')[1]!;
    expect(await page.getByRole('list').filter({ hasText: 'confirmed' }).count()).toBeGreaterThan(0);
    await page.getByRole('cell', { name: '€25.00' }).first().waitFor();
    await web.check(page, 'order');

    await page.getByRole('link', { name: 'My orders', exact: true }).click();
    await page.getByRole('heading', { name: 'My orders' }).waitFor();
    await page.getByRole('link', { name: `${shop.store.name}: 2 × Green tea` }).waitFor();
    await web.check(page, 'my-orders');

    // The order is the shopper's, and the stock was sold.
    const order = await web.ctx.http.get(`/v1/orders/${orderId}`).set('Authorization', shopper.auth);
    expect(order.body).toMatchObject({ status: 'confirmed', customer_id: shopper.id, total_cents: order.body.subtotal_cents + order.body.tax_cents });
    const product = await web.ctx.http.get(`/v1/stores/${shop.store.id}/products/${shop.product.id}`).query({ include_inventory: 'true' });
    expect(product.body.variants.find((v: { id: string }) => v.id === shop.variants[0]!.id).available).toBe(3);
  });

  it('a guest fills a cart, signs in, and finds the same cart with its hold, now the account\'s alone', async () => {
    const merchant = await registerAccount(web.ctx.http, { role: 'merchant' });
    const shopper = await registerAccount(web.ctx.http, { role: 'backer', name: 'Gus Guest' });
    const shop = await createShop(merchant);

    const page = await web.newPage();
    await page.goto(`/stores/${shop.store.slug}/products/${shop.product.id}`);
    await page.getByRole('radio', { name: /100 g .*5 in stock/ }).check();
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('link', { name: 'View cart and check out' }).click();
    await page.getByRole('heading', { name: 'Your cart' }).waitFor();
    const cartId = (await page.evaluate(`localStorage.getItem(${JSON.stringify(`pledgeflow.cart.${shop.store.id}`)})`)) as string | null;
    expect(cartId).toMatch(/^[0-9a-f-]{36}$/);
    // A guest cart: its id alone opens it.
    expect((await web.ctx.http.get(`/v1/carts/${cartId}`)).status).toBe(200);

    await page.goto(`/signin?next=/stores/${shop.store.slug}/cart`);
    await page.getByLabel('Email').fill(shopper.email);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Your cart' }).waitFor();
    await page.getByRole('timer', { name: 'Time left on the hold' }).waitFor();
    expect(await page.getByRole('link', { name: 'Cart (1 item)' }).count()).toBe(1);
    await web.check(page, 'cart-after-sign-in');

    // The same cart, now the shopper's: their token opens it, the bare id no longer does; the unit is still held.
    expect((await web.ctx.http.get(`/v1/carts/${cartId}`)).status).toBe(404);
    const mine = await web.ctx.http.get(`/v1/carts/${cartId}`).set('Authorization', shopper.auth);
    expect(mine.body).toMatchObject({ id: cartId, items: [{ variant_id: shop.variants[0]!.id, quantity: 1, reserved_until: expect.any(String) }] });
  });

  it('when a hold runs out, the cart says so in a live region', async () => {
    const merchant = await registerAccount(web.ctx.http, { role: 'merchant' });
    const shop = await createShop(merchant);
    // A guest's cart, opened through the API; the browser remembers it as the storefront would.
    const cart = await web.ctx.http.post('/v1/carts').send({ store_id: shop.store.id });
    const added = await web.ctx.http.post(`/v1/carts/${cart.body.id}/items`).send({ variant_id: shop.variants[0]!.id, quantity: 1 });
    expect(added.body.items[0].reserved_until).not.toBeNull();

    const page = await web.newPage();
    await page.clock.install();
    await page.addInitScript(`localStorage.setItem(${JSON.stringify(`pledgeflow.cart.${shop.store.id}`)}, ${JSON.stringify(cart.body.id)})`);
    await page.goto(`/stores/${shop.store.slug}/cart`);
    await page.getByRole('timer', { name: 'Time left on the hold' }).waitFor();
    await page.clock.fastForward('16:00');
    await page.getByRole('status').filter({ hasText: 'The hold ended on Green tea (size: 100 g)' }).waitFor();
    await page.getByText('Not held: the units went back to stock').waitFor();
    await web.check(page, 'cart-hold-ended');
  });

  // Last, once every page was seen, so one run reports them all.
  it('no page had a serious or critical axe violation or a console error', () => {
    expect(web.findings()).toEqual({ violations: [], errors: [] });
  });
});
