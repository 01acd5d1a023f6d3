/**
 * Distances and search boxes on the Earth (issue 12 search `near=lat,lng&radius_km`). Pure.
 */

export interface LatLng {
  lat: number;
  lng: number;
}

/** Mean Earth radius (IUGG). */
export const EARTH_RADIUS_KM = 6371.0088;

const rad = (deg: number): number => (deg * Math.PI) / 180;
const deg = (r: number): number => (r * 180) / Math.PI;

/** Great-circle distance in km. */
export function haversineKm(a: LatLng, b: LatLng): number {
  const dLat = rad(b.lat - a.lat);
  const dLng = rad(b.lng - a.lng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * A box holding every point within radiusKm of center.
 * - minLat/maxLat: clamped to [-90, 90].
 * - lngRanges: one or two [min, max] ranges within [-180, 180] to OR together in SQL
 *   (`lng BETWEEN r[0][0] AND r[0][1] OR lng BETWEEN r[1][0] AND r[1][1]`). Two when the box crosses the antimeridian.
 * - minLng/maxLng: the box's western and eastern edges; minLng > maxLng exactly when it crosses the antimeridian.
 * When the circle reaches a pole, every longitude qualifies: lngRanges = [[-180, 180]].
 */
export function boundingBox(center: LatLng, radiusKm: number): { minLat: number; maxLat: number; minLng: number; maxLng: number; lngRanges: [number, number][] } {
  if (!(radiusKm >= 0) || !Number.isFinite(radiusKm)) throw new RangeError('radiusKm must be a non-negative finite number');
  const angular = radiusKm / EARTH_RADIUS_KM;
  const lat = rad(center.lat);
  const minLatR = lat - angular;
  const maxLatR = lat + angular;
  const minLat = Math.max(-90, deg(minLatR));
  const maxLat = Math.min(90, deg(maxLatR));
  if (minLatR <= -Math.PI / 2 || maxLatR >= Math.PI / 2 || angular >= Math.PI) {
    return { minLat, maxLat, minLng: -180, maxLng: 180, lngRanges: [[-180, 180]] };
  }
  // The widest longitude spread is at the tangent points, not at the centre's latitude.
  const dLng = deg(Math.asin(Math.min(1, Math.sin(angular) / Math.cos(lat))));
  if (dLng >= 180) return { minLat, maxLat, minLng: -180, maxLng: 180, lngRanges: [[-180, 180]] };
  const west = center.lng - dLng;
  const east = center.lng + dLng;
  if (west < -180) return { minLat, maxLat, minLng: west + 360, maxLng: east, lngRanges: [[west + 360, 180], [-180, east]] };
  if (east > 180) return { minLat, maxLat, minLng: west, maxLng: east - 360, lngRanges: [[west, 180], [-180, east - 360]] };
  return { minLat, maxLat, minLng: west, maxLng: east, lngRanges: [[west, east]] };
}
