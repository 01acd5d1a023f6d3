/**
 * Slot times for people in two zones: the customer's (the browser's) and the provider's IANA zone the slots were
 * computed in. Intl does the conversion; the API's times are UTC.
 */
const locale = () => navigator.language || 'en-US';

export const browserZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

export function timeIn(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit', timeZone }).format(new Date(iso));
}

export function dayIn(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat(locale(), { weekday: 'long', day: 'numeric', month: 'long', timeZone }).format(new Date(iso));
}

/** "YYYY-MM-DD" of an instant in a zone (for grouping slots by the customer's day). */
export function isoDateIn(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', timeZone }).format(new Date(iso));
}

/** "10:00 your time · 09:00 Europe/Berlin", or one time when both zones agree on the clock. */
export function twoZoneTime(iso: string, providerZone: string, yourZone = browserZone()): string {
  const yours = timeIn(iso, yourZone);
  const theirs = timeIn(iso, providerZone);
  return yours === theirs && yourZone === providerZone ? `${yours} (${providerZone})` : `${yours} your time · ${theirs} ${providerZone}`;
}

/** "Friday, 4 December, 10:00 your time · 09:00 Europe/Berlin". */
export function whenBoth(iso: string, providerZone: string): string {
  return `${dayIn(iso, browserZone())}, ${twoZoneTime(iso, providerZone)}`;
}
