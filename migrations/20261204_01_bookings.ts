import type { Knex } from 'knex';

/**
 * Service bookings: providers (role `provider`), their services, availability, holds and bookings, and reviews.
 *
 * A hold and the booking made from it are one `bookings` row (`held` → `confirmed` → ...), so the no-double-booking
 * gate is one exclusion constraint over every live row of a provider, whatever path wrote it (hold, booking,
 * reschedule, operator edit). `blocked` is the interval the row keeps the provider busy: [start, end + buffer).
 * The buffer follows each booking, so slots listed on a grid of duration + buffer sit exactly side by side.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS btree_gist');

  for (const col of ['role', 'base_role']) {
    await knex.raw(`ALTER TABLE users DROP CONSTRAINT IF EXISTS users_${col}_check`);
  }
  await knex.raw(`ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('backer', 'creator', 'merchant', 'provider', 'operator'))`);
  await knex.raw(`ALTER TABLE users ADD CONSTRAINT users_base_role_check CHECK (base_role IN ('backer', 'creator', 'merchant', 'provider'))`);

  await knex.raw(`
    CREATE TABLE providers (
      id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id           uuid NOT NULL UNIQUE REFERENCES users(id),
      display_name      text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
      bio               text NOT NULL DEFAULT '',
      categories        text[] NOT NULL CHECK (cardinality(categories) BETWEEN 1 AND 20),
      time_zone         text NOT NULL,
      lat               double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
      lng               double precision NOT NULL CHECK (lng BETWEEN -180 AND 180),
      city              text NOT NULL,
      country           text NOT NULL,
      service_radius_km integer CHECK (service_radius_km > 0),
      status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'rejected', 'expired')),
      rejection_reason  text,
      -- payout details, through the PaymentGateway port (a connected account)
      payout_account_id text,
      payout_status     text NOT NULL DEFAULT 'missing' CHECK (payout_status IN ('missing', 'pending', 'ready')),
      -- availability in the provider's local time: [{weekday, start, end}] and [{date, closed} | {date, start, end}]
      weekly_hours      jsonb NOT NULL DEFAULT '[]',
      exceptions        jsonb NOT NULL DEFAULT '[]',
      -- aggregates kept in the transaction that changes what they count
      rating_count      integer NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
      rating_sum        integer NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
      completed_count   integer NOT NULL DEFAULT 0 CHECK (completed_count >= 0),
      search            tsvector GENERATED ALWAYS AS (to_tsvector('simple', display_name || ' ' || bio)) STORED,
      approved_at       timestamptz,
      created_at        timestamptz NOT NULL DEFAULT now(),
      updated_at        timestamptz NOT NULL DEFAULT now(),
      CHECK (rating_sum BETWEEN rating_count AND 5 * rating_count)
    )
  `);
  // Bounding box first (lat range, then lng filtered), haversine on what is left.
  await knex.raw(`CREATE INDEX providers_active_location_idx ON providers (lat, lng) WHERE status = 'active'`);
  await knex.raw('CREATE INDEX providers_search_idx ON providers USING gin (search)');

  await knex.raw(`
    CREATE TABLE services (
      id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      provider_id         uuid NOT NULL REFERENCES providers(id),
      title               text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
      description         text NOT NULL DEFAULT '',
      category            text NOT NULL CHECK (length(category) BETWEEN 1 AND 100),
      duration_minutes    integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 1440),
      buffer_minutes      integer NOT NULL DEFAULT 0 CHECK (buffer_minutes BETWEEN 0 AND 720),
      base_price_cents    bigint NOT NULL CHECK (base_price_cents > 0),
      currency            char(3) NOT NULL CHECK (currency = upper(currency)),
      free_until_hours    integer NOT NULL DEFAULT 24 CHECK (free_until_hours BETWEEN 0 AND 8760),
      late_fee_percent    integer NOT NULL DEFAULT 50 CHECK (late_fee_percent BETWEEN 0 AND 100),
      no_show_fee_percent integer NOT NULL DEFAULT 100 CHECK (no_show_fee_percent BETWEEN 0 AND 100),
      active              boolean NOT NULL DEFAULT true,
      search              tsvector GENERATED ALWAYS AS (
                            setweight(to_tsvector('simple', title), 'A') ||
                            setweight(to_tsvector('simple', category), 'B') ||
                            setweight(to_tsvector('simple', description), 'C')) STORED,
      created_at          timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw('CREATE INDEX services_provider_idx ON services (provider_id)');
  await knex.raw('CREATE INDEX services_category_idx ON services (category) WHERE active');
  await knex.raw('CREATE INDEX services_search_idx ON services USING gin (search)');

  await knex.raw(`
    CREATE TABLE bookings (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      service_id       uuid NOT NULL REFERENCES services(id),
      provider_id      uuid NOT NULL REFERENCES providers(id),
      customer_id      uuid NOT NULL REFERENCES users(id),
      status           text NOT NULL CHECK (status IN ('held', 'confirmed', 'completed', 'cancelled', 'no_show', 'expired', 'released')),
      starts_at        timestamptz NOT NULL,
      ends_at          timestamptz NOT NULL CHECK (ends_at > starts_at),
      buffer_minutes   integer NOT NULL DEFAULT 0 CHECK (buffer_minutes >= 0),
      -- [starts_at, ends_at + buffer): written by the application, checked here
      blocked          tstzrange NOT NULL,
      -- the hold's end; the booking's durable timer releases a row still held then
      hold_expires_at  timestamptz NOT NULL,
      -- the quote the hold was made from: the booking is charged exactly this
      price_cents      bigint NOT NULL CHECK (price_cents > 0),
      currency         char(3) NOT NULL,
      quote            jsonb NOT NULL,
      -- the cancellation terms frozen at booking: {free_until_hours, late_fee_percent, no_show_fee_percent}
      policy           jsonb NOT NULL,
      payment_method   text,
      notes            text NOT NULL DEFAULT '',
      -- what the outcome did with the money, set once by the transition that ends the booking
      captured_cents   bigint NOT NULL DEFAULT 0 CHECK (captured_cents >= 0),
      refund_cents     bigint NOT NULL DEFAULT 0 CHECK (refund_cents >= 0),
      fee_cents        bigint NOT NULL DEFAULT 0 CHECK (fee_cents >= 0),
      cancelled_by     text CHECK (cancelled_by IN ('customer', 'provider', 'operator')),
      -- a hold used to move another booking ends 'released' with this set
      moved_booking_id uuid REFERENCES bookings(id),
      confirmed_at     timestamptz,
      ended_at         timestamptz,
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      CHECK (lower(blocked) = starts_at AND upper(blocked) >= ends_at AND NOT lower_inf(blocked) AND NOT upper_inf(blocked)),
      CHECK (fee_cents + refund_cents <= price_cents AND captured_cents <= price_cents),
      -- the gate: two live rows of one provider never overlap, buffers included, whatever wrote them
      CONSTRAINT bookings_no_overlap EXCLUDE USING gist (provider_id WITH =, blocked WITH &&)
        WHERE (status IN ('held', 'confirmed'))
    )
  `);
  await knex.raw('CREATE INDEX bookings_provider_start_idx ON bookings (provider_id, starts_at)');
  await knex.raw('CREATE INDEX bookings_customer_start_idx ON bookings (customer_id, starts_at DESC, id)');
  await knex.raw(`CREATE INDEX bookings_held_expiry_idx ON bookings (hold_expires_at) WHERE status = 'held'`);

  await knex.raw(`
    CREATE TABLE booking_status_history (
      id          bigserial PRIMARY KEY,
      booking_id  uuid NOT NULL REFERENCES bookings(id),
      status      text NOT NULL,
      actor       text NOT NULL,
      detail      jsonb NOT NULL DEFAULT '{}',
      created_at  timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw('CREATE INDEX booking_status_history_booking_idx ON booking_status_history (booking_id, id)');

  await knex.raw(`
    CREATE TABLE reviews (
      id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      booking_id  uuid NOT NULL UNIQUE REFERENCES bookings(id),
      provider_id uuid NOT NULL REFERENCES providers(id),
      customer_id uuid NOT NULL REFERENCES users(id),
      rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
      comment     text NOT NULL DEFAULT '' CHECK (length(comment) <= 5000),
      created_at  timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw('CREATE INDEX reviews_provider_created_idx ON reviews (provider_id, created_at DESC, id)');

  // Booking money on the one ledger: authorizations, captures, voids, refunds, and the provider's release.
  await knex.raw('ALTER TABLE ledger_transactions ADD COLUMN booking_id uuid REFERENCES bookings(id)');
  await knex.raw('CREATE INDEX ledger_booking_idx ON ledger_transactions (booking_id) WHERE booking_id IS NOT NULL');
  await knex.raw('ALTER TABLE ledger_transactions DROP CONSTRAINT IF EXISTS ledger_transactions_kind_check');
  await knex.raw(
    `ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
       CHECK (kind IN ('authorization', 'capture', 'charge', 'void', 'refund', 'provider_release'))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DELETE FROM ledger_transactions WHERE booking_id IS NOT NULL OR kind = 'provider_release'`);
  await knex.raw('ALTER TABLE ledger_transactions DROP CONSTRAINT IF EXISTS ledger_transactions_kind_check');
  await knex.raw(`ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check CHECK (kind IN ('authorization', 'capture', 'charge', 'void', 'refund'))`);
  await knex.raw('ALTER TABLE ledger_transactions DROP COLUMN IF EXISTS booking_id');
  for (const t of ['reviews', 'booking_status_history', 'bookings', 'services', 'providers']) await knex.raw(`DROP TABLE IF EXISTS ${t}`);
  await knex.raw(`UPDATE users SET role = 'backer' WHERE role = 'provider'`);
  await knex.raw(`UPDATE users SET base_role = 'backer' WHERE base_role = 'provider'`);
  await knex.raw('ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check, DROP CONSTRAINT IF EXISTS users_base_role_check');
  await knex.raw(`ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('backer', 'creator', 'merchant', 'operator'))`);
  await knex.raw(`ALTER TABLE users ADD CONSTRAINT users_base_role_check CHECK (base_role IN ('backer', 'creator', 'merchant'))`);
}
