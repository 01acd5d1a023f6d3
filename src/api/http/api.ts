import { Router, type NextFunction, type Request, type Response } from 'express';
import { z, type ZodType } from 'zod';
import { extendZodWithOpenApi, type OpenAPIRegistry, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { Logger } from 'pino';
import { hasRole, type Principal, type Role } from '../../domain/roles';
import { Problem, problems, type FieldError } from './problem';
import { etagOpenApi, sendWithEtag } from './etag';
import { JsonBody } from '../../infra/jsonBody';

extendZodWithOpenApi(z);

/**
 * The one way routes are declared. A declaration both validates requests (params, query, body; unknown body
 * fields rejected) and registers the operation in the OpenAPI document, so the two cannot disagree. It also
 * applies authentication, role checks and the Idempotency-Key contract uniformly.
 */
export type AuthRequirement = 'public' | 'optional' | 'user' | readonly Role[];
export type IdempotencyMode = 'none' | 'optional' | 'required';
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface ResponseDef {
  description: string;
  schema?: ZodType;
  contentType?: string;
}

export interface RouteDef<P extends AnyObject, Q extends AnyObject, B extends ZodType> {
  method: Method;
  /** OpenAPI-style path, e.g. /v1/campaigns/{id}. */
  path: string;
  operationId: string;
  summary: string;
  tags: string[];
  auth: AuthRequirement;
  params?: P;
  query?: Q;
  body?: B;
  /** Defaults to 'optional' for POST (API.md: accepted on every POST), 'none' otherwise. */
  idempotency?: IdempotencyMode;
  responses: Record<number, ResponseDef>;
  /**
   * GET only: a 200 JSON body is sent with a strong ETag of its exact bytes and `Cache-Control: no-cache`, and
   * If-None-Match naming it answers 304 without a body (etag.ts). Documented in the OpenAPI description.
   */
  etag?: boolean;
}

export interface HandlerContext<P, Q, B> {
  req: Request;
  res: Response;
  params: P;
  query: Q;
  body: B;
  principal: Principal | undefined;
  log: Logger;
}

export interface HandlerResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler<P, Q, B> = (ctx: HandlerContext<P, Q, B>) => Promise<HandlerResult | void>;

/** Verifies a bearer token; throws Problem 401 when it is invalid or expired. */
export type Authenticator = (token: string) => Promise<Principal>;

export interface IdempotencyRequest {
  /** Per user, or per client for guests. */
  scope: string;
  key: string;
  /** Method, route and canonical body: a different fingerprint under the same key is a misuse. */
  fingerprint: string;
}

export interface IdempotencyGuard {
  /** Runs `fn` once per (scope, key); later calls replay its stored result. */
  execute(request: IdempotencyRequest, fn: () => Promise<HandlerResult>): Promise<HandlerResult>;
}

export interface ApiDeps {
  authenticate: Authenticator;
  idempotency: IdempotencyGuard;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function toFieldErrors(error: z.ZodError, prefix: string): FieldError[] {
  return error.issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter(Boolean).join('.'),
    message: i.message,
    code: i.code,
  }));
}

function bearerToken(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header === undefined) return undefined;
  const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
  if (!match?.[1]) throw problems.unauthorized('The Authorization header must be "Bearer <token>".');
  return match[1];
}

/** Stable JSON: object keys sorted, so semantically equal bodies fingerprint alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function send(res: Response, result: HandlerResult, etag?: { req: Request; personalized: boolean }): void {
  for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v);
  if (etag && result.status === 200 && result.body !== undefined) sendWithEtag(etag.req, res, result.status, result.body, etag);
  else if (result.body === undefined) res.status(result.status).end();
  else if (result.body instanceof JsonBody) res.status(result.status).type('application/json').send(result.body.bytes);
  else res.status(result.status).json(result.body);
}

/**
 * The literal start of a route's path that picks its group: `/v1/<resource>` for versioned routes, else the first
 * segment. Lower-cased, as Express matches paths case-insensitively; raw (not decoded), as Express matches them.
 */
function routeGroupOf(path: string): string {
  const lower = path.toLowerCase();
  const end = lower.indexOf('/', lower.startsWith('/v1/') ? 4 : 1);
  return end === -1 ? lower : lower.slice(0, end);
}

export class Api {
  /**
   * Routes kept in one sub-router per group (routeGroupOf) so a request is matched against its group's few routes
   * instead of walking every route's pattern in declaration order. Two routes of different groups can never match
   * the same path (their first segments are different literals), so the answer is the same as one flat router's.
   */
  private readonly groups = new Map<string, Router>();

  /**
   * Hands a request to its group's router. `router` (which uses it) is the way to mount the routes; an app may
   * mount this directly instead and save one router pass per request (app.ts does).
   */
  readonly dispatch = (req: Request, res: Response, next: NextFunction): void => {
    const group = this.groups.get(routeGroupOf(req.path));
    if (group) group(req, res, next);
    else next();
  };

  constructor(
    readonly router: Router,
    readonly registry: OpenAPIRegistry,
    private readonly deps: ApiDeps,
  ) {
    router.use(this.dispatch);
  }

  private groupFor(path: string): Router {
    const key = routeGroupOf(path);
    if (key.includes('{')) throw new Error(`${path}: a route's first segment (after /v1) must be literal`);
    let group = this.groups.get(key);
    if (!group) {
      group = Router();
      this.groups.set(key, group);
    }
    return group;
  }

  route<P extends AnyObject, Q extends AnyObject, B extends ZodType>(
    def: RouteDef<P, Q, B>,
    handler: Handler<z.infer<P>, z.infer<Q>, z.infer<B>>,
  ): void {
    const idempotency = def.idempotency ?? (def.method === 'post' ? 'optional' : 'none');
    if (def.etag && def.method !== 'get') throw new Error(`${def.operationId}: etag applies to GET routes only`);
    this.registry.registerPath(this.openApiRoute(def, idempotency));
    const expressPath = def.path.replace(/\{(\w+)\}/g, ':$1');

    this.groupFor(def.path)[def.method](expressPath, async (req: Request, res: Response, next: NextFunction) => {
      try {
        const principal = await this.authenticate(req, def.auth);
        const params = this.parse(def.params, req.params, 'params') as z.infer<P>;
        const query = this.parse(def.query, req.query, 'query') as z.infer<Q>;
        const body = this.parseBody(def, req) as z.infer<B>;
        const ctx: HandlerContext<z.infer<P>, z.infer<Q>, z.infer<B>> = {
          req,
          res,
          params,
          query,
          body,
          principal,
          // On demand: the request's child logger is made only by handlers that log.
          get log() {
            return req.log;
          },
        };
        const key = req.get('idempotency-key');
        // API.md accepts the header on every POST, so a malformed one is a 400 there even when the route opts
        // out of replays (e.g. login, whose body and response hold credentials that must not be stored).
        if (key !== undefined && !IDEMPOTENCY_KEY.test(key) && (idempotency !== 'none' || def.method === 'post')) {
          throw new Problem(400, 'invalid_idempotency_key', 'Invalid Idempotency-Key', 'The Idempotency-Key header must be 1-255 printable ASCII characters.');
        }
        if (idempotency === 'none' || (key === undefined && idempotency === 'optional')) {
          const result = await handler(ctx);
          if (result) send(res, result, def.etag ? { req, personalized: def.auth !== 'public' } : undefined);
          return;
        }
        if (key === undefined) {
          throw new Problem(400, 'idempotency_key_required', 'Idempotency-Key required', 'This operation needs an Idempotency-Key header (1-255 printable characters).');
        }
        const scope = principal ? `user:${principal.id}` : `guest:${req.ip ?? 'unknown'}`;
        const fingerprint = `${def.method.toUpperCase()} ${req.path} ${canonicalJson(req.body ?? null)}`;
        const result = await this.deps.idempotency.execute({ scope, key, fingerprint }, async () => {
          const r = await handler(ctx);
          if (!r) throw new Error(`${def.operationId}: idempotent handlers must return a result`);
          return r;
        });
        send(res, result);
      } catch (err) {
        next(err);
      }
    });
  }

  private async authenticate(req: Request, auth: AuthRequirement): Promise<Principal | undefined> {
    if (auth === 'public') return undefined;
    const token = bearerToken(req);
    if (!token) {
      if (auth === 'optional') return undefined;
      throw problems.unauthorized();
    }
    const principal = await this.deps.authenticate(token);
    req.principal = principal;
    if (Array.isArray(auth) && !hasRole(principal, auth)) {
      throw problems.forbidden(`This operation requires one of the roles: ${auth.join(', ')}.`);
    }
    return principal;
  }

  private parse(schema: ZodType | undefined, input: unknown, where: string): unknown {
    if (!schema) return {};
    const parsed = schema.safeParse(input ?? {});
    if (!parsed.success) throw problems.validation(toFieldErrors(parsed.error, where), `Invalid ${where}.`);
    return parsed.data;
  }

  private parseBody(def: RouteDef<AnyObject, AnyObject, ZodType>, req: Request): unknown {
    if (!def.body) return undefined;
    // A body whose every field is optional may be left out altogether (POST .../cancel with no reason): only a
    // request with no body at all, never one sent in another format.
    if (req.body === undefined && !hasBody(req) && def.body.safeParse({}).success) return this.parse(def.body, {}, 'body');
    if (req.body === undefined) {
      throw problems.validation([{ path: 'body', message: 'A JSON body (Content-Type: application/json) is required.' }], 'Missing JSON body.');
    }
    return this.parse(def.body, req.body, 'body');
  }

  private openApiRoute(def: RouteDef<AnyObject, AnyObject, ZodType>, idempotency: IdempotencyMode): RouteConfig {
    const etag = def.etag ? etagOpenApi() : undefined;
    const headerShape: Record<string, ZodType> = {};
    if (idempotency !== 'none') {
      headerShape['idempotency-key'] = (idempotency === 'required' ? z.string() : z.string().optional()).openapi({
        description: 'Same key + same body replays the first response; a different body is 422.',
      });
    }
    if (etag) headerShape['if-none-match'] = etag.requestHeader;
    const headers = Object.keys(headerShape).length > 0 ? z.object(headerShape) : undefined;
    const responses: RouteConfig['responses'] = {};
    for (const [status, r] of Object.entries(def.responses)) {
      const tagged = etag && status === '200' ? { headers: etag.responseHeaders } : {};
      responses[status] = r.schema
        ? { description: r.description, ...tagged, content: { [r.contentType ?? 'application/json']: { schema: r.schema } } }
        : { description: r.description, ...tagged };
    }
    if (etag) responses['304'] ??= { description: etag.notModified, headers: etag.responseHeaders };
    const problem = (d: string) => ({ description: d, content: { 'application/problem+json': { schema: ProblemSchema } } });
    responses['400'] ??= problem('Malformed or invalid request');
    if (def.auth !== 'public') responses['401'] ??= problem('Missing, malformed or expired token');
    if (Array.isArray(def.auth)) responses['403'] ??= problem('Authenticated without the required role');
    return {
      method: def.method,
      path: def.path,
      operationId: def.operationId,
      summary: def.summary,
      tags: def.tags,
      security: def.auth === 'public' ? [] : def.auth === 'optional' ? [{}, { bearerAuth: [] }] : [{ bearerAuth: [] }],
      request: {
        params: def.params,
        query: def.query,
        headers,
        body: def.body ? { required: !def.body.safeParse({}).success, content: { 'application/json': { schema: def.body } } } : undefined,
      },
      responses,
    };
  }
}

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    code: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string(), code: z.string().optional() })).optional(),
  })
  .openapi('Problem');

/** Query schemas for lists: ?limit= (1-100, default 20) and ?cursor=. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(500).optional(),
};

/** Typed by name, so `params.id` is a string rather than `string | undefined`. */
export const uuidParam = <N extends string = 'id'>(name: N = 'id' as N) =>
  z.object({ [name]: z.uuid() } as Record<N, z.ZodUUID>);

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
    rawBody?: Buffer;
  }
}

/** Whether the request carries a body at all (RFC 9112: a Content-Length above 0, or a Transfer-Encoding). */
export function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
