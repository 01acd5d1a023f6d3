/** A provider's mean rating and review count in words ("No reviews yet" before the first). */
export function Rating({ provider }: { provider: { rating_average: number | null; rating_count: number } }) {
  if (provider.rating_average === null) return <>No reviews yet</>;
  return (
    <>
      Rated {provider.rating_average.toFixed(1)} of 5 ({provider.rating_count} {provider.rating_count === 1 ? 'review' : 'reviews'})
    </>
  );
}
