import { useMemo } from 'react';
import { useInfiniteQuery, type QueryKey } from '@tanstack/react-query';

/** One page of an API list: every list answers `{data, next_cursor}` (API.md "Lists"). */
export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
}

/**
 * A cursor-paged API list read page by page: `items` is every page loaded so far, `more()` loads the next one.
 * Pages are cached under `key` like any query, so invalidating the key refreshes what is shown.
 */
export function usePages<T>(key: QueryKey, fetchPage: (cursor: string | undefined) => Promise<Page<T>>, options: { enabled?: boolean; staleTime?: number } = {}) {
  const query = useInfiniteQuery({
    queryKey: key,
    ...options,
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => fetchPage(pageParam),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const items = useMemo(() => query.data?.pages.flatMap((p) => p.data) ?? [], [query.data]);
  return { ...query, items, more: () => void query.fetchNextPage() };
}

/** What a "Load more" control needs of a paged list. */
export type PagedList = Pick<ReturnType<typeof usePages>, 'items' | 'hasNextPage' | 'isFetchingNextPage' | 'more'>;
