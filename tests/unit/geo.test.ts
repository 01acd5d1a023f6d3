import fc from 'fast-check';
import { boundingBox, EARTH_RADIUS_KM, haversineKm, type LatLng } from '../../src/domain/geo';

const berlin = { lat: 52.52, lng: 13.405 };
const paris = { lat: 48.8566, lng: 2.3522 };

const inBox = (p: LatLng, box: ReturnType<typeof boundingBox>): boolean =>
  p.lat >= box.minLat && p.lat <= box.maxLat && box.lngRanges.some(([lo, hi]) => p.lng >= lo && p.lng <= hi);

/** The point `km` away from `from` on the initial bearing (degrees), longitude normalized to [-180, 180]. */
function destination(from: LatLng, bearingDeg: number, km: number): LatLng {
  const r = Math.PI / 180;
  const d = km / EARTH_RADIUS_KM;
  const lat1 = from.lat * r;
  const b = bearingDeg * r;
  const lat2 = Math.asin(Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(b));
  const lng2 = from.lng * r + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(lat1), Math.cos(d) - Math.sin(lat1) * Math.sin(lat2));
  let lng = lng2 / r;
  lng = ((((lng + 180) % 360) + 360) % 360) - 180;
  return { lat: lat2 / r, lng };
}

describe('haversineKm', () => {
  it('measures known distances', () => {
    expect(haversineKm(berlin, paris)).toBeCloseTo(878, -1);
    expect(haversineKm(berlin, berlin)).toBe(0);
    expect(haversineKm({ lat: 0, lng: 179.5 }, { lat: 0, lng: -179.5 })).toBeCloseTo(111.2, 0);
    expect(haversineKm({ lat: 90, lng: 0 }, { lat: -90, lng: 0 })).toBeCloseTo(Math.PI * EARTH_RADIUS_KM, 6);
  });

  it('is symmetric and never negative', () => {
    const point = fc.record({ lat: fc.double({ min: -90, max: 90, noNaN: true }), lng: fc.double({ min: -180, max: 180, noNaN: true }) });
    fc.assert(
      fc.property(point, point, (a, b) => {
        const d = haversineKm(a, b);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeCloseTo(haversineKm(b, a), 9);
      }),
    );
  });
});

describe('boundingBox', () => {
  it('is one longitude range away from the antimeridian', () => {
    const box = boundingBox(berlin, 50);
    expect(box.lngRanges).toEqual([[box.minLng, box.maxLng]]);
    expect(box.minLng).toBeLessThan(berlin.lng);
    expect(box.maxLng).toBeGreaterThan(berlin.lng);
    expect(box.maxLat - box.minLat).toBeCloseTo((100 / EARTH_RADIUS_KM) * (180 / Math.PI), 9);
  });

  it('splits into two ranges across the antimeridian, minLng > maxLng', () => {
    const box = boundingBox({ lat: -17.7, lng: 179.9 }, 100); // Fiji
    expect(box.minLng).toBeGreaterThan(box.maxLng);
    expect(box.lngRanges).toEqual([[box.minLng, 180], [-180, box.maxLng]]);
    const west = boundingBox({ lat: 65, lng: -179.5 }, 200); // Chukotka / Alaska
    expect(west.lngRanges).toEqual([[west.minLng, 180], [-180, west.maxLng]]);
  });

  it('takes every longitude when the circle reaches a pole', () => {
    expect(boundingBox({ lat: 89.5, lng: 10 }, 100)).toEqual({ minLat: expect.any(Number), maxLat: 90, minLng: -180, maxLng: 180, lngRanges: [[-180, 180]] });
    expect(boundingBox({ lat: -89.9, lng: 10 }, 50).lngRanges).toEqual([[-180, 180]]);
    expect(boundingBox(berlin, 30_000).lngRanges).toEqual([[-180, 180]]);
  });

  it('refuses a negative or non-finite radius', () => {
    for (const r of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => boundingBox(berlin, r)).toThrow(RangeError);
  });

  it('holds every point within the radius, in any direction, anywhere on Earth', () => {
    fc.assert(
      fc.property(
        fc.record({ lat: fc.double({ min: -89.9, max: 89.9, noNaN: true }), lng: fc.double({ min: -180, max: 180, noNaN: true }) }),
        fc.double({ min: 0.1, max: 2000, noNaN: true }),
        fc.double({ min: 0, max: 360, noNaN: true, maxExcluded: true }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (center, radius, bearing, fraction) => {
          const p = destination(center, bearing, radius * fraction);
          expect(haversineKm(center, p)).toBeLessThanOrEqual(radius * 1.000001);
          expect(inBox(p, boundingBox(center, radius))).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('is not wildly larger than the circle at moderate latitudes (the corners stay within radius × 1.5 in longitude)', () => {
    const box = boundingBox({ lat: 45, lng: 0 }, 100);
    const edge = haversineKm({ lat: 45, lng: 0 }, { lat: 45, lng: box.maxLng });
    expect(edge).toBeGreaterThanOrEqual(100);
    expect(edge).toBeLessThan(150);
  });
});
