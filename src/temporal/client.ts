import { Client, Connection, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { platformSearchAttributes } from './searchAttributes';

/**
 * A Temporal client that connects on first use and retries the connection on the next call after a failure,
 * so the API can start (and answer /readyz 503) while Temporal is still coming up.
 */
export class TemporalClientProvider {
  private connecting?: Promise<Connection>;
  private clientInstance?: Client;

  constructor(
    readonly address: string,
    readonly namespace: string,
  ) {}

  connection(): Promise<Connection> {
    this.connecting ??= Connection.connect({ address: this.address, connectTimeout: '3s' }).catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  async client(): Promise<Client> {
    const connection = await this.connection();
    this.clientInstance ??= new Client({ connection, namespace: this.namespace });
    return this.clientInstance;
  }

  /**
   * Runs `fn` with a deadline on every Temporal call it makes. An Update waits for a worker to run its handler;
   * with no worker polling it would wait forever, so HTTP handlers bound it and answer 503 instead.
   */
  async withDeadline<T>(ms: number, fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.client();
    const connection = await this.connection();
    try {
      return await connection.withDeadline(Date.now() + ms, () => fn(client));
    } catch (err) {
      if (isDeadlineExceeded(err)) throw new TemporalTimeoutError(ms);
      throw err;
    }
  }

  async close(): Promise<void> {
    const c = this.connecting;
    this.connecting = undefined;
    this.clientInstance = undefined;
    if (c) await (await c.catch(() => undefined))?.close();
  }
}

/** A Temporal call did not finish within its deadline (no worker answered, or the server is overloaded). */
export class TemporalTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`Temporal did not answer within ${timeoutMs} ms`);
    this.name = 'TemporalTimeoutError';
  }
}

function isDeadlineExceeded(err: unknown): boolean {
  // The Update's long-poll gives up with its own error; plain calls fail with gRPC status 4
  // (DEADLINE_EXCEEDED), possibly wrapped by the SDK as the cause of its own error.
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === 4) return true;
  }
  return false;
}

const indexedValueType: Record<string, number> = {
  TEXT: 1,
  KEYWORD: 2,
  INT: 3,
  DOUBLE: 4,
  BOOL: 5,
  DATETIME: 6,
  KEYWORD_LIST: 7,
};

/**
 * Registers any platform search attribute the namespace lacks. The dev server gets them on its command line;
 * this covers an external Temporal (docker-compose, a cluster) and attributes added after a server was created.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set([...Object.keys(existing.customAttributes ?? {}), ...Object.keys(existing.systemAttributes ?? {})]);
  const missing = platformSearchAttributes.filter((k) => !known.has(k.name));
  if (!missing.length) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((k) => [k.name, indexedValueType[k.type] ?? 2])),
  });
  return missing.map((k) => k.name);
}
