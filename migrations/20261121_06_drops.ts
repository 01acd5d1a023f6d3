import type { Knex } from 'knex';

/**
 * Drops: a limited number of units of one variant sold by lottery or first-come-first-served (DESIGN.md,
 * "Drops rules"). Postgres is the truth for every entry, ranking, claim and queue place; Redis only speeds
 * things up and is rebuilt from these tables.
 *
 * Oversell: `drops_no_oversell` (sold <= quantity) gates the drop; the inventory CHECK still gates the variant.
 * Fairness: one entry and one queue place per account (unique (drop_id, user_id)); a rank and a queue position
 * are each held by at most one row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE drops (
      id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      store_id             uuid NOT NULL REFERENCES stores(id),
      variant_id           uuid NOT NULL,
      created_by           uuid NOT NULL REFERENCES users(id),
      mode                 text NOT NULL CHECK (mode IN ('lottery','fcfs')),
      status               text NOT NULL DEFAULT 'scheduled' CHECK (status IN
                             ('scheduled','open','drawing','claiming','sold_out','closed')),
      quantity             integer NOT NULL CHECK (quantity > 0),
      sold                 integer NOT NULL DEFAULT 0 CHECK (sold >= 0),
      price_cents          bigint NOT NULL CHECK (price_cents > 0),
      currency             char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      opens_at             timestamptz NOT NULL,
      -- lottery: end of registration (required); fcfs: end of the sale (optional)
      closes_at            timestamptz CHECK (closes_at IS NULL OR closes_at > opens_at),
      claim_window_seconds integer NOT NULL DEFAULT 172800 CHECK (claim_window_seconds > 0),
      admission_per_second numeric NOT NULL DEFAULT 10 CHECK (admission_per_second > 0),
      -- the draw secret: hex, revealed only after the draw; its sha256 is published at creation
      seed                 text NOT NULL,
      seed_commitment      text NOT NULL,
      -- published at close: sha256 over the sorted entry ids
      entries_hash         text,
      entries_count        integer,
      drawn_at             timestamptz,
      created_at           timestamptz NOT NULL DEFAULT now(),
      updated_at           timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT drops_no_oversell CHECK (sold <= quantity),
      CONSTRAINT drops_lottery_closes CHECK (mode <> 'lottery' OR closes_at IS NOT NULL),
      FOREIGN KEY (variant_id, store_id) REFERENCES variants (id, store_id)
    )
  `);
  await knex.raw('CREATE INDEX drops_store_created_idx ON drops (store_id, created_at DESC, id)');
  await knex.raw('CREATE INDEX drops_variant_idx ON drops (variant_id)');

  // Lottery entries. rank is the 1-based position in the published ranking (set by the draw).
  await knex.raw(`
    CREATE TABLE drop_entries (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      drop_id          uuid NOT NULL REFERENCES drops(id) ON DELETE CASCADE,
      user_id          uuid NOT NULL REFERENCES users(id),
      -- the card saved at entry (business key of the save-card payment row), charged when the win is claimed
      payment_method   text NOT NULL,
      payment_key      text,
      status           text NOT NULL DEFAULT 'entered' CHECK (status IN
                         ('entered','won','waitlisted','claimed','expired','lost')),
      rank             integer CHECK (rank > 0),
      claim_expires_at timestamptz,
      -- numbers the claim's checkout (drop:<drop>:claim:<entry>:<attempt>): a declined card moves to the next
      -- attempt, so a retry with another card is a new checkout while double clicks share one
      claim_attempt    integer NOT NULL DEFAULT 1 CHECK (claim_attempt > 0),
      -- set when a waitlisted entry is promoted into a freed unit (its claim window is its own)
      promoted_at      timestamptz,
      order_id         uuid REFERENCES orders(id),
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      UNIQUE (drop_id, user_id),
      UNIQUE (drop_id, rank)
    )
  `);
  await knex.raw('CREATE INDEX drop_entries_drop_status_rank_idx ON drop_entries (drop_id, status, rank)');

  // First-come waiting room. seq is arrival order; position is the serving order (arrival order for later
  // arrivals, a seeded shuffle for those who came before opens_at), assigned when the room opens or on arrival.
  await knex.raw(`
    CREATE TABLE drop_queue (
      id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      drop_id        uuid NOT NULL REFERENCES drops(id) ON DELETE CASCADE,
      user_id        uuid NOT NULL REFERENCES users(id),
      seq            bigserial NOT NULL,
      pre_open       boolean NOT NULL,
      position       integer CHECK (position > 0),
      status         text NOT NULL DEFAULT 'waiting' CHECK (status IN
                       ('waiting','admitted','purchased','left','expired','closed')),
      cart_id        uuid,
      admitted_at    timestamptz,
      admitted_until timestamptz,
      created_at     timestamptz NOT NULL DEFAULT now(),
      updated_at     timestamptz NOT NULL DEFAULT now(),
      UNIQUE (drop_id, user_id),
      UNIQUE (drop_id, position)
    )
  `);
  await knex.raw('CREATE INDEX drop_queue_drop_status_position_idx ON drop_queue (drop_id, status, position)');
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['drop_queue', 'drop_entries', 'drops']) await knex.raw(`DROP TABLE IF EXISTS ${t}`);
}
