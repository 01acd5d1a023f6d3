import { randomBytes } from 'node:crypto';
import type { Config } from '../config';
import { refusals, type FieldError } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import { webhookUrlProblem } from '../notifications/webhookUrl';
import { campaignJson, insertCampaign, type CampaignJson, type NewCampaign } from './repository';

/** A creator's new campaign: a draft with its reward tiers, and (when asked for) a signed webhook. */

/** Far-future deadlines are almost certainly typos, and would park a timer for decades. */
export const MAX_DEADLINE_AHEAD_MS = 2 * 366 * 86_400_000;

/** What a creator asks for: the campaign's terms, its tiers, and a webhook URL whose secret is made here. */
export type NewCampaignInput = Omit<NewCampaign, 'ownerId' | 'startsAt' | 'webhook'> & { startsAt?: Date; webhookUrl?: string };

/** The created campaign; `webhook_secret` only here, once, when a webhook URL was given. */
export type CreatedCampaignJson = CampaignJson & { webhook_secret?: string };

export function createCampaignCreation(deps: { db: Db; config: Config }) {
  const { db, config } = deps;

  /** Rules the schema cannot state: dates against now and each other, and a webhook URL we may call. */
  function invalidFields(input: NewCampaignInput, now: number): FieldError[] {
    const errors: FieldError[] = [];
    const endsAt = input.endsAt.getTime();
    if (endsAt <= now) errors.push({ path: 'body.ends_at', message: 'must be in the future' });
    else if (endsAt - now > MAX_DEADLINE_AHEAD_MS) errors.push({ path: 'body.ends_at', message: 'must be within two years' });
    if (input.startsAt && input.startsAt.getTime() >= endsAt) errors.push({ path: 'body.ends_at', message: 'must be after starts_at' });
    const badWebhook = input.webhookUrl && webhookUrlProblem(input.webhookUrl, { allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_URLS });
    if (badWebhook) errors.push({ path: 'body.webhook_url', message: badWebhook });
    return errors;
  }

  return {
    async createCampaign(owner: Principal, input: NewCampaignInput): Promise<CreatedCampaignJson> {
      const errors = invalidFields(input, Date.now());
      if (errors.length) throw refusals.invalid(errors);

      const webhook = input.webhookUrl ? { url: input.webhookUrl, secret: `whsec_${randomBytes(32).toString('base64url')}` } : null;
      const { campaign, tiers } = await insertCampaign(db, {
        ownerId: owner.id,
        ...input,
        currency: input.currency.toUpperCase(),
        startsAt: input.startsAt ?? null,
        webhook,
      });
      const json = campaignJson(campaign, tiers, { pledged_cents: 0, backer_count: 0 }, new Date(), { includePrivate: true });
      return webhook ? { ...json, webhook_secret: webhook.secret } : json;
    },
  };
}
