import type { Knex } from 'knex';

/**
 * Crowdfunding: campaigns with reward tiers, pledges, the money ledger, and the notification inbox/outbox.
 * Totals live on the campaign row and change in the same transaction as the pledge that moves them, so
 * Postgres is always the truth; CHECK constraints make an oversubscribed tier impossible.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE campaigns (
      id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      owner_id        uuid NOT NULL REFERENCES users(id),
      title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
      description     text NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
      category        text NOT NULL CHECK (category IN ('charity','business','personal','creative','technology','community','other')),
      goal_cents      bigint NOT NULL CHECK (goal_cents > 0),
      currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      funding_model   text NOT NULL DEFAULT 'all_or_nothing' CHECK (funding_model IN ('all_or_nothing','flexible')),
      status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','scheduled','live','succeeded','failed','cancelled','settled')),
      outcome         text CHECK (outcome IN ('succeeded','failed','cancelled')),
      starts_at       timestamptz,
      ends_at         timestamptz NOT NULL,
      pledged_cents   bigint NOT NULL DEFAULT 0 CHECK (pledged_cents >= 0),
      backer_count    integer NOT NULL DEFAULT 0 CHECK (backer_count >= 0),
      collected_cents bigint NOT NULL DEFAULT 0 CHECK (collected_cents >= 0),
      webhook_url     text,
      webhook_secret  text,
      launched_at     timestamptz,
      decided_at      timestamptz,
      settled_at      timestamptz,
      created_at      timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now(),
      search          tsvector GENERATED ALWAYS AS (
                        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', description), 'B')
                      ) STORED,
      CHECK (starts_at IS NULL OR ends_at > starts_at),
      CHECK ((webhook_url IS NULL) = (webhook_secret IS NULL))
    )
  `);
  await knex.raw('CREATE INDEX campaigns_status_created_idx ON campaigns (status, created_at DESC, id)');
  await knex.raw('CREATE INDEX campaigns_category_status_created_idx ON campaigns (category, status, created_at DESC, id)');
  await knex.raw('CREATE INDEX campaigns_starts_at_idx ON campaigns (starts_at)');
  await knex.raw('CREATE INDEX campaigns_owner_idx ON campaigns (owner_id, created_at DESC)');
  await knex.raw('CREATE INDEX campaigns_search_idx ON campaigns USING gin (search)');

  await knex.raw(`
    CREATE TABLE reward_tiers (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      campaign_id      uuid NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
      position         integer NOT NULL,
      title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
      description      text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
      min_amount_cents bigint NOT NULL CHECK (min_amount_cents > 0),
      quantity         integer CHECK (quantity > 0),
      claimed          integer NOT NULL DEFAULT 0 CHECK (claimed >= 0),
      created_at       timestamptz NOT NULL DEFAULT now(),
      -- the final gate against oversubscription, whatever the application does
      CHECK (quantity IS NULL OR claimed <= quantity),
      UNIQUE (campaign_id, position)
    )
  `);

  await knex.raw(`
    CREATE TABLE pledges (
      id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      campaign_id             uuid NOT NULL REFERENCES campaigns(id),
      backer_id               uuid NOT NULL REFERENCES users(id),
      reward_tier_id          uuid REFERENCES reward_tiers(id),
      amount_cents            bigint NOT NULL CHECK (amount_cents > 0),
      currency                char(3) NOT NULL,
      status                  text NOT NULL DEFAULT 'pending' CHECK (status IN
                                ('pending','active','requires_action','collected','payment_failed','dropped','cancelled','voided','refunded','declined')),
      payment_mode            text NOT NULL CHECK (payment_mode IN ('authorize','save_card')),
      payment_method          text NOT NULL,
      -- business key of the payments row holding the card (setup) or the funds (authorization)
      payment_key             text,
      provider_customer_id    text,
      provider_payment_method text,
      charge_attempts         integer NOT NULL DEFAULT 0,
      collected_cents         bigint NOT NULL DEFAULT 0 CHECK (collected_cents >= 0),
      failure_code            text,
      failure_message         text,
      next_action             jsonb,
      drop_deadline           timestamptz,
      created_at              timestamptz NOT NULL DEFAULT now(),
      updated_at              timestamptz NOT NULL DEFAULT now(),
      collected_at            timestamptz,
      cancelled_at            timestamptz
    )
  `);
  // One open pledge per backer and campaign (edit it instead); ended pledges do not block a new one.
  await knex.raw(`CREATE UNIQUE INDEX pledges_one_open_per_backer ON pledges (campaign_id, backer_id)
                  WHERE status IN ('pending','active','requires_action','collected','payment_failed')`);
  // Settlement pages through a campaign's pledges by id.
  await knex.raw('CREATE INDEX pledges_campaign_status_id_idx ON pledges (campaign_id, status, id)');
  await knex.raw('CREATE INDEX pledges_backer_created_idx ON pledges (backer_id, created_at DESC, id)');

  await knex.raw(`
    CREATE TABLE ledger_transactions (
      id            bigserial PRIMARY KEY,
      campaign_id   uuid REFERENCES campaigns(id),
      pledge_id     uuid REFERENCES pledges(id),
      kind          text NOT NULL CHECK (kind IN ('authorization','capture','charge','void','refund')),
      amount_cents  bigint NOT NULL CHECK (amount_cents >= 0),
      currency      char(3) NOT NULL,
      provider      text NOT NULL,
      provider_id   text NOT NULL,
      -- one ledger line per money movement, however often the step that records it is retried
      business_key  text NOT NULL UNIQUE,
      created_at    timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw('CREATE INDEX ledger_campaign_idx ON ledger_transactions (campaign_id, kind)');
  await knex.raw('CREATE INDEX ledger_pledge_idx ON ledger_transactions (pledge_id)');

  await knex.raw(`
    CREATE TABLE notifications (
      id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id     uuid NOT NULL REFERENCES users(id),
      type        text NOT NULL,
      title       text NOT NULL,
      body        text NOT NULL DEFAULT '',
      data        jsonb NOT NULL DEFAULT '{}',
      -- makes "notify X about Y" idempotent when the step that sends it is retried
      dedupe_key  text NOT NULL UNIQUE,
      created_at  timestamptz NOT NULL DEFAULT now(),
      read_at     timestamptz
    )
  `);
  await knex.raw('CREATE INDEX notifications_user_created_idx ON notifications (user_id, created_at DESC, id)');

  await knex.raw(`
    CREATE TABLE outbox (
      id              bigserial PRIMARY KEY,
      topic           text NOT NULL CHECK (topic IN ('notification_push','creator_webhook','campaign_event')),
      dedupe_key      text NOT NULL UNIQUE,
      payload         jsonb NOT NULL,
      attempts        integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      delivered_at    timestamptz,
      last_error      text,
      created_at      timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw('CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL');
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['outbox', 'notifications', 'ledger_transactions', 'pledges', 'reward_tiers', 'campaigns']) {
    await knex.raw(`DROP TABLE IF EXISTS ${t}`);
  }
}
