import type { Request, Response } from 'express';
import { z } from 'zod';
import { JsonBody, strongEtag } from '../../infra/jsonBody';

export { strongEtag };

/**
 * Strong ETags computed from the exact bytes of a JSON response, and If-None-Match evaluated per RFC 9110
 * §13.1.2 (weak comparison; `*`; a list of tags). A route opts in with `etag: true` (see api.ts): because the tag
 * is a hash of the body as sent, anything in it that changes (live stock, a price) changes the tag, whatever was
 * cached on the way to building it.
 */

const OWS = /[ \t]*/y;
// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE ; etagc = %x21 / %x23-7E / obs-text
const ENTITY_TAG = /(?:W\/)?"([\x21\x23-\x7e\x80-\xff]*)"/y;

/**
 * The field value as `'*'` or the opaque tags it lists (weakness dropped: If-None-Match compares weakly), or
 * undefined when the field is absent or malformed, in which case the precondition is ignored.
 */
export function parseIfNoneMatch(field: string | undefined): '*' | string[] | undefined {
  if (field === undefined) return undefined;
  if (field.trim() === '*') return '*';
  const tags: string[] = [];
  let i = 0;
  const skipOws = () => {
    OWS.lastIndex = i;
    OWS.exec(field);
    i = OWS.lastIndex;
  };
  for (;;) {
    skipOws();
    if (i >= field.length) break;
    if (field[i] === ',') {
      // Empty list elements are allowed (RFC 9110 §5.6.1).
      i += 1;
      continue;
    }
    ENTITY_TAG.lastIndex = i;
    const m = ENTITY_TAG.exec(field);
    if (!m) return undefined;
    tags.push(m[1]!);
    i = ENTITY_TAG.lastIndex;
    skipOws();
    if (i >= field.length) break;
    if (field[i] !== ',') return undefined;
    i += 1;
  }
  return tags.length > 0 ? tags : undefined;
}

/** True when If-None-Match names `etag` (or is `*`): the client's copy is current. */
export function ifNoneMatchMatches(field: string | undefined, etag: string): boolean {
  const parsed = parseIfNoneMatch(field);
  if (parsed === undefined) return false;
  if (parsed === '*') return true;
  const opaque = etag.replace(/^W\//, '').slice(1, -1);
  return parsed.includes(opaque);
}

/**
 * Sends `body` as JSON with a strong ETag, or `304 Not Modified` without a body when If-None-Match names it.
 * Clients may keep the representation but must revalidate before using it (`no-cache`); one that may depend on
 * the caller's token is `private` and varies on Authorization. The bytes are written directly so Express's own
 * weak-ETag freshness check cannot answer differently from the one here. A `JsonBody` brings its bytes and tag
 * already made (serialized once per version of a cached answer).
 */
export function sendWithEtag(req: Request, res: Response, status: number, body: unknown, opts: { personalized: boolean }): void {
  const { bytes, etag } = body instanceof JsonBody ? body : new JsonBody(body);
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', opts.personalized ? 'private, no-cache' : 'no-cache');
  if (opts.personalized) res.vary('Authorization');
  if (ifNoneMatchMatches(req.get('if-none-match'), etag)) {
    res.status(304).end();
    return;
  }
  res.status(status);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(bytes.length));
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

/** OpenAPI pieces for a route with `etag: true` (built on call: api.ts extends zod with `.openapi` first). */
export const etagOpenApi = () => ({
  requestHeader: z
    .string()
    .optional()
    .openapi({ description: 'ETags from earlier responses (or `*`); if one matches the current representation the answer is 304 without a body' }),
  responseHeaders: z.object({
    ETag: z.string().openapi({ description: 'Strong tag of this exact body (it covers live stock); send it back in If-None-Match' }),
    'Cache-Control': z.string().openapi({ description: '`no-cache` (`private, no-cache` when the answer may depend on the token): store, but revalidate' }),
  }),
  notModified: 'Not Modified: If-None-Match names the current ETag; no body',
});
