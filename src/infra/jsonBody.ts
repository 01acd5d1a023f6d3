import { createHash } from 'node:crypto';

/**
 * A JSON answer serialized once, with the strong entity tag of its exact bytes: for answers served many times
 * unchanged (a cached product), so the serializing and hashing happen once per version, not once per request.
 * The HTTP layer sends the bytes as they are (src/api/http/etag.ts).
 */
export class JsonBody {
  readonly bytes: Buffer;
  readonly etag: string;

  constructor(value: unknown) {
    this.bytes = Buffer.from(JSON.stringify(value), 'utf8');
    this.etag = strongEtag(this.bytes);
  }

  /** The value again, for callers that need the object (tests, or a route that post-processes). */
  toJSON(): unknown {
    return JSON.parse(this.bytes.toString('utf8')) as unknown;
  }
}

/** `"<sha-256 base64url>"` of the given bytes: a strong entity tag. */
export function strongEtag(bytes: string | Buffer): string {
  return `"${createHash('sha256').update(bytes).digest('base64url')}"`;
}
