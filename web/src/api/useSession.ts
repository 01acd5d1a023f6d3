import { useSyncExternalStore } from 'react';
import { session, type User } from './client';

/** The signed-in user (undefined when signed out), re-rendering on sign in, refresh and sign out. */
export function useUser(): User | undefined {
  return useSyncExternalStore(session.subscribe, session.user);
}
