import type { PagedList } from '../lib/usePages';

/** "Load more" under a paged list while the API has more; says how many are shown, for screen readers too. */
export function LoadMore({ list, what }: { list: PagedList; what: string }) {
  return (
    <div className="load-more">
      <p className="meta" role="status">
        Showing {list.items.length} {what}
        {list.hasNextPage ? '' : ', all there are'}.
      </p>
      {list.hasNextPage && (
        <button type="button" onClick={list.more} disabled={list.isFetchingNextPage}>
          {list.isFetchingNextPage ? 'Loading…' : `Load more ${what}`}
        </button>
      )}
    </div>
  );
}
