import type { Knex } from 'knex';

/**
 * Commerce: stores, catalog (products, variants), inventory, and the tables the cart/checkout/order steps
 * build on (reservations, orders, order items, order status history), so the schema is reviewed as one.
 *
 * Tenancy: every store-scoped table carries store_id, and composite foreign keys ((id, store_id) pairs) make
 * the denormalised copies agree with their parent, so a row can never claim one store while pointing into
 * another. Oversell: the inventory CHECK `reserved + sold <= total_stock` is the final gate (DESIGN.md, 1).
 */
export async function up(knex: Knex): Promise<void> {
  // Trigram similarity for typo-tolerant product search ("hedphones" finds "Headphones").
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');

  await knex.raw(`
    CREATE TABLE stores (
      id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      owner_id   uuid NOT NULL REFERENCES users(id),
      name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{3,60}$'),
      currency   char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw('CREATE INDEX stores_owner_idx ON stores (owner_id, created_at DESC)');

  await knex.raw(`
    CREATE TABLE products (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      store_id         uuid NOT NULL REFERENCES stores(id),
      name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      description      text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
      base_price_cents bigint NOT NULL CHECK (base_price_cents > 0),
      category         text CHECK (length(category) BETWEEN 1 AND 100),
      attributes       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
      images           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(images) = 'array'),
      status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active','draft','archived')),
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      search           tsvector GENERATED ALWAYS AS (
                         setweight(to_tsvector('english', name), 'A') ||
                         setweight(to_tsvector('english', coalesce(category, '')), 'B') ||
                         setweight(to_tsvector('english', description), 'C')
                       ) STORED,
      -- target of the composite foreign keys below
      UNIQUE (id, store_id)
    )
  `);
  await knex.raw('CREATE INDEX products_store_status_created_idx ON products (store_id, status, created_at DESC, id)');
  await knex.raw('CREATE INDEX products_search_idx ON products USING gin (search)');
  await knex.raw('CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops)');

  await knex.raw(`
    CREATE TABLE variants (
      id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      product_id           uuid NOT NULL,
      store_id             uuid NOT NULL,
      sku                  text NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
      attributes           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
      price_modifier_cents bigint NOT NULL DEFAULT 0,
      -- flash-sale variants: the next steps put a Redis Lua pre-filter in front of their inventory
      hot                  boolean NOT NULL DEFAULT false,
      created_at           timestamptz NOT NULL DEFAULT now(),
      updated_at           timestamptz NOT NULL DEFAULT now(),
      FOREIGN KEY (product_id, store_id) REFERENCES products (id, store_id) ON DELETE CASCADE,
      UNIQUE (store_id, sku),
      UNIQUE (id, store_id)
    )
  `);
  await knex.raw('CREATE INDEX variants_product_idx ON variants (product_id)');

  await knex.raw(`
    CREATE TABLE inventory (
      variant_id  uuid PRIMARY KEY,
      store_id    uuid NOT NULL,
      total_stock integer NOT NULL CHECK (total_stock >= 0),
      reserved    integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
      sold        integer NOT NULL DEFAULT 0 CHECK (sold >= 0),
      updated_at  timestamptz NOT NULL DEFAULT now(),
      -- the oversell gate: whatever the application (or Redis) believes, Postgres refuses more than stock
      CONSTRAINT inventory_no_oversell CHECK (reserved + sold <= total_stock),
      FOREIGN KEY (variant_id, store_id) REFERENCES variants (id, store_id) ON DELETE CASCADE
    )
  `);

  await knex.raw(`
    CREATE TABLE reservations (
      id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      store_id    uuid NOT NULL,
      variant_id  uuid NOT NULL,
      -- carts live in Redis (and their workflow); the id ties holds to the cart that made them
      cart_id     uuid NOT NULL,
      quantity    integer NOT NULL CHECK (quantity > 0),
      status      text NOT NULL DEFAULT 'held' CHECK (status IN ('held','committed','released')),
      expires_at  timestamptz NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now(),
      FOREIGN KEY (variant_id, store_id) REFERENCES variants (id, store_id)
    )
  `);
  await knex.raw('CREATE INDEX reservations_cart_idx ON reservations (cart_id)');
  // The expiry sweep (reconciliation) looks for held rows past their time.
  await knex.raw('CREATE INDEX reservations_status_expires_idx ON reservations (status, expires_at)');
  // One live hold per cart line: changing a quantity updates it instead of stacking holds.
  await knex.raw(`CREATE UNIQUE INDEX reservations_one_held_per_cart_variant ON reservations (cart_id, variant_id) WHERE status = 'held'`);

  await knex.raw(`
    CREATE TABLE orders (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      store_id         uuid NOT NULL REFERENCES stores(id),
      -- null for guest checkouts
      customer_id      uuid REFERENCES users(id),
      cart_id          uuid NOT NULL,
      -- the Idempotency-Key of the checkout: one order per checkout, however often it is retried
      checkout_key     text NOT NULL UNIQUE,
      status           text NOT NULL DEFAULT 'pending' CHECK (status IN
                         ('pending','confirmed','processing','shipped','delivered','cancelled')),
      currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      subtotal_cents   bigint NOT NULL CHECK (subtotal_cents >= 0),
      total_cents      bigint NOT NULL CHECK (total_cents >= 0),
      shipping_address jsonb NOT NULL CHECK (jsonb_typeof(shipping_address) = 'object'),
      billing_address  jsonb CHECK (billing_address IS NULL OR jsonb_typeof(billing_address) = 'object'),
      -- business key of the payments row (checkout:<key>:authorize)
      payment_key      text,
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      UNIQUE (id, store_id)
    )
  `);
  await knex.raw('CREATE INDEX orders_store_status_created_idx ON orders (store_id, status, created_at DESC, id)');
  await knex.raw('CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at DESC) WHERE customer_id IS NOT NULL');

  await knex.raw(`
    CREATE TABLE order_items (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      order_id         uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
      variant_id       uuid NOT NULL REFERENCES variants(id),
      -- copies at purchase time: the order must not change when the catalog does
      sku              text NOT NULL,
      name             text NOT NULL,
      quantity         integer NOT NULL CHECK (quantity > 0),
      unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0)
    )
  `);
  await knex.raw('CREATE INDEX order_items_order_idx ON order_items (order_id)');

  await knex.raw(`
    CREATE TABLE order_status_history (
      id          bigserial PRIMARY KEY,
      order_id    uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
      -- null for the first entry (the order's creation)
      from_status text,
      to_status   text NOT NULL,
      -- a user id, or 'system' for workflow-driven changes
      actor       text NOT NULL,
      reason      text,
      created_at  timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw('CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id)');
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['order_status_history', 'order_items', 'orders', 'reservations', 'inventory', 'variants', 'products', 'stores']) {
    await knex.raw(`DROP TABLE IF EXISTS ${t}`);
  }
  // pg_trgm stays: other objects may use it, and dropping an extension is not this migration's call.
}
