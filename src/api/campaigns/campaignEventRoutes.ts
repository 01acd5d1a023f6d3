import { z } from 'zod';
import { uuidParam, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { lastEventId, liveUpdatesUnavailable, openSse, bufferedSubscription } from '../http/sse';
import {
  campaignEventsChannel,
  canReplayAfter,
  compareStreamIds,
  isStreamId,
  latestCampaignEventId,
  parseCampaignMessage,
  readCampaignEventsAfter,
  type StoredCampaignEvent,
} from '../../campaigns/events';
import { createCampaignReads } from '../../campaigns/campaignReads';
import { pushHub } from '../../notifications/push';

/**
 * GET /v1/campaigns/{id}/events: live progress for anyone watching a public campaign, on whichever replica
 * they are connected to.
 *
 * A new client gets a status and a progress snapshot, tagged with the id of the newest stream entry, then
 * every later event. A reconnecting client (Last-Event-ID) gets exactly the events it missed, from the
 * campaign's stream, then live ones. Either way the subscription is made first and live messages are
 * buffered while the snapshot or replay is read, then only ids after what was sent are forwarded: no gap,
 * no duplicate.
 */
function eventName(stored: StoredCampaignEvent): string {
  return stored.event.type;
}

export function registerCampaignEventsRoutes(api: Api, deps: AppDeps): void {
  const { redis } = deps;
  const reads = createCampaignReads(deps);

  api.route(
    {
      method: 'get',
      path: '/v1/campaigns/{id}/events',
      operationId: 'streamCampaignEvents',
      summary: 'Server-Sent Events: `status {status}` and `progress {pledged_cents, backer_count, percent_funded}` (resume with Last-Event-ID)',
      tags: ['Campaigns'],
      auth: 'public',
      params: uuidParam('id'),
      responses: {
        200: { description: 'An event stream', schema: z.string(), contentType: 'text/event-stream' },
        404: { description: 'No such campaign, or not launched yet' },
      },
    },
    async ({ params, req, res, log }) => {
      const campaignId = params.id;
      // Drafts are private to their owner: indistinguishable from a missing campaign.
      await reads.requirePublicCampaign(campaignId);

      const live = await bufferedSubscription((onMessage) => pushHub(redis, deps.logger).subscribe(campaignEventsChannel(campaignId), onMessage)).catch((err: unknown) => {
        throw liveUpdatesUnavailable(err, log);
      });
      const { unsubscribe } = live;
      try {
        const requested = lastEventId(req);
        const resume = requested && isStreamId(requested) && (await canReplayAfter(redis, campaignId, requested)) ? requested : undefined;

        let cursor: string;
        const initial: StoredCampaignEvent[] = [];
        if (resume) {
          initial.push(...(await readCampaignEventsAfter(redis, campaignId, resume)));
          cursor = initial[initial.length - 1]?.id ?? resume;
        } else {
          // Events up to `cursor` are folded into the snapshot read after it; later ones arrive live.
          cursor = await latestCampaignEventId(redis, campaignId);
          const snapshot = await reads.progressSnapshot(campaignId);
          initial.push(
            { id: cursor, event: { type: 'status', status: snapshot.status } },
            { id: cursor, event: { type: 'progress', ...snapshot.progress } },
          );
        }

        const stream = openSse(req, res, { keepAliveMs: deps.config.SSE_KEEPALIVE });
        stream.onClose(unsubscribe);
        for (const e of initial) stream.send({ event: eventName(e), id: e.id, data: e.event });
        const forward = (message: string) => {
          const stored = parseCampaignMessage(message);
          if (!stored || compareStreamIds(stored.id, cursor) <= 0) return;
          cursor = stored.id;
          stream.send({ event: eventName(stored), id: stored.id, data: stored.event });
        };
        live.goLive(forward);
      } catch (err) {
        unsubscribe();
        throw liveUpdatesUnavailable(err, log);
      }
    },
  );
}
