import { useQuery } from '@tanstack/react-query';
import { api, type Schemas } from './client';
import { usePages } from '../lib/usePages';
import { unwrap } from '../lib/problem';

export type SearchHit = Schemas['ServiceSearchHit'];
export type Provider = Schemas['Provider'];
export type ProviderSummary = Schemas['ProviderSummary'];
export type Service = Schemas['Service'];
export type ServiceWithProvider = Schemas['ServiceWithProvider'];
export type Slot = Schemas['SlotList']['slots'][number];
export type Quote = Schemas['Quote'];
export type Hold = Schemas['SlotHold'];
export type Booking = Schemas['Booking'];
export type BookingWithHistory = Schemas['BookingWithHistory'];
export type Availability = Schemas['ProviderAvailability'];
export type BookingStatus = Booking['status'];

export interface ServiceFilters {
  q?: string;
  category?: string;
  near?: string;
  radius_km?: number;
  min_rating?: number;
  available_on?: string;
  sort?: 'relevance' | 'rating' | 'price' | 'distance';
}

export function useServiceSearch(filters: ServiceFilters) {
  return usePages(['service-search', filters], (cursor) => unwrap(api.GET('/v1/services/search', { params: { query: { ...filters, limit: 24, cursor } } })));
}

export function useProvider(id: string | undefined) {
  return useQuery({
    queryKey: ['provider', id],
    enabled: id !== undefined,
    queryFn: () => unwrap(api.GET('/v1/providers/{id}', { params: { path: { id: id! } } })),
  });
}

export function useProviderReviews(id: string) {
  return usePages(['provider-reviews', id], (cursor) => unwrap(api.GET('/v1/providers/{id}/reviews', { params: { path: { id }, query: { limit: 20, cursor } } })));
}

export function useService(id: string) {
  return useQuery({ queryKey: ['service', id], queryFn: () => unwrap(api.GET('/v1/services/{id}', { params: { path: { id } } })) });
}

/** Free slots from now over the next `days` days. */
export function useSlots(serviceId: string, days = 14) {
  return useQuery({
    queryKey: ['slots', serviceId, days],
    queryFn: () => {
      const from = new Date();
      const to = new Date(from.getTime() + days * 86_400_000);
      return unwrap(api.GET('/v1/services/{id}/slots', { params: { path: { id: serviceId }, query: { from: from.toISOString(), to: to.toISOString() } } }));
    },
  });
}

/** The signed-in user's provider profile, or null when they have not onboarded (404). */
export function useMyProvider(enabled: boolean) {
  return useQuery({
    queryKey: ['my-provider'],
    enabled,
    queryFn: async (): Promise<Provider | null> => {
      const result = await api.GET('/v1/me/provider');
      if (result.response.status === 404) return null;
      return unwrap(Promise.resolve(result));
    },
  });
}

/** A provider's services, oldest first (the owner sees them while pending too). */
export function useProviderServices(providerId: string) {
  return useQuery({
    queryKey: ['provider-services', providerId],
    queryFn: () => unwrap(api.GET('/v1/providers/{id}/services', { params: { path: { id: providerId } } })),
  });
}

export function useAvailability(providerId: string) {
  return useQuery({
    queryKey: ['availability', providerId],
    queryFn: () => unwrap(api.GET('/v1/providers/{id}/availability', { params: { path: { id: providerId } } })),
  });
}

export function useMyBookings(enabled: boolean, status: BookingStatus | undefined) {
  return usePages(['my-bookings', status], (cursor) => unwrap(api.GET('/v1/me/bookings', { params: { query: { status, limit: 25, cursor } } })), { enabled });
}

export interface BookingListFilters {
  status?: BookingStatus;
  /** Starting at or after / before these instants (RFC 3339). */
  from?: string;
  to?: string;
}

export function useProviderBookings(providerId: string, filters: BookingListFilters) {
  return usePages(['provider-bookings', providerId, filters], (cursor) =>
    unwrap(api.GET('/v1/providers/{id}/bookings', { params: { path: { id: providerId }, query: { ...filters, limit: 25, cursor } } })),
  );
}

export function useBooking(id: string, enabled: boolean) {
  return useQuery({ queryKey: ['booking', id], enabled, queryFn: () => unwrap(api.GET('/v1/bookings/{id}', { params: { path: { id } } })) });
}

export const BOOKING_STATUSES: BookingStatus[] = ['confirmed', 'completed', 'cancelled', 'no_show'];
