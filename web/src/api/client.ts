import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type User = Schemas['User'];
export type AuthResult = Schemas['AuthResult'];

/**
 * The session: the access token lives only in memory; the refresh token in sessionStorage, so a reload (or a
 * new tab's first request) gets a fresh access token from POST /v1/auth/refresh without asking to sign in again.
 * Each refresh token works once, so the new one is stored before anything else happens.
 */
const REFRESH_KEY = 'pledgeflow.refresh';
let accessToken: string | undefined;
let currentUser: User | undefined;
const listeners = new Set<(user: User | undefined) => void>();

export const session = {
  user: () => currentUser,
  subscribe(fn: (user: User | undefined) => void): () => void {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
  start(result: AuthResult): void {
    sessionStorage.setItem(REFRESH_KEY, result.refresh_token);
    accessToken = result.token;
    setUser(result.user);
  },
  clear(): void {
    sessionStorage.removeItem(REFRESH_KEY);
    accessToken = undefined;
    setUser(undefined);
  },
  hasRefresh: () => sessionStorage.getItem(REFRESH_KEY) !== null,
};

function setUser(user: User | undefined): void {
  currentUser = user;
  for (const fn of listeners) fn(user);
}

let refreshing: Promise<boolean> | undefined;

/** Exchanges the stored refresh token once, however many requests ask at the same time. */
export function refreshSession(): Promise<boolean> {
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (!token) return Promise.resolve(false);
  refreshing ??= fetch('/v1/auth/refresh', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: token }),
  })
    .then(async (res) => {
      if (!res.ok) {
        session.clear();
        return false;
      }
      session.start((await res.json()) as AuthResult);
      return true;
    })
    .catch(() => false)
    .finally(() => (refreshing = undefined));
  return refreshing;
}

/** fetch with the access token; an expired one is refreshed and the request sent once more. */
async function authedFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const send = (req: Request) => {
    if (accessToken) req.headers.set('Authorization', `Bearer ${accessToken}`);
    return fetch(req);
  };
  const res = await send(request);
  if (res.status !== 401 || !session.hasRefresh() || request.url.includes('/v1/auth/')) return res;
  return (await refreshSession()) ? send(retry) : res;
}

export const api = createClient<paths>({ baseUrl: window.location.origin, fetch: authedFetch });
