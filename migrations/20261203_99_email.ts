import type { Knex } from 'knex';

/**
 * Email (issue 11): every notification also gets an outbox row of topic `notification_email` (dedupe key
 * `email:<notification key>`, so one email per notification), and account mail (verification, reset) is
 * queued there too. Email rows have their own lane with its own partial index: they are claimed with a lease
 * instead of a transaction held across SMTP (src/notifications/email/emailLane.ts), and a backlog of 100k
 * campaign emails must not slow the pushes and webhooks lane down.
 *
 * `email_preferences`: the non-essential categories a user opted out of (no row = everything on).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_topic_check');
  await knex.raw(
    `ALTER TABLE outbox ADD CONSTRAINT outbox_topic_check CHECK (topic IN ('notification_push','creator_webhook','campaign_event','notification_email'))`,
  );
  await knex.raw(`CREATE INDEX outbox_email_pending_idx ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL AND topic = 'notification_email'`);
  await knex.raw(`CREATE INDEX outbox_other_pending_idx ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL AND topic <> 'notification_email'`);
  await knex.raw('DROP INDEX IF EXISTS outbox_pending_idx');

  await knex.raw(`
    CREATE TABLE email_preferences (
      user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      opted_out  text[] NOT NULL DEFAULT '{}',
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS email_preferences');
  await knex.raw('CREATE INDEX IF NOT EXISTS outbox_pending_idx ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL');
  await knex.raw('DROP INDEX IF EXISTS outbox_email_pending_idx');
  await knex.raw('DROP INDEX IF EXISTS outbox_other_pending_idx');
  await knex.raw(`DELETE FROM outbox WHERE topic = 'notification_email'`);
  await knex.raw('ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_topic_check');
  await knex.raw(`ALTER TABLE outbox ADD CONSTRAINT outbox_topic_check CHECK (topic IN ('notification_push','creator_webhook','campaign_event'))`);
}
