import { CATEGORIES, PUBLIC_STATUSES, useCampaignPages, type CampaignCategory, type CampaignStatus } from '../api/campaigns';
import { CampaignGrid } from '../components/CampaignCard';
import { Field, SelectField } from '../components/Field';
import { LoadMore } from '../components/LoadMore';
import { Empty, ErrorBox, Loading } from '../components/states';
import { words } from '../lib/format';
import { useUrlFilters } from '../lib/useUrlFilters';
import { useTitle } from '../lib/useTitle';

/** Campaign discovery: category, status and text search, kept in the address so a search can be shared. */
export function DiscoverPage() {
  useTitle('Discover campaigns');
  const { params, set, text, setText, search } = useUrlFilters();
  const category = (params.get('category') ?? '') as CampaignCategory | '';
  const status = (params.get('status') ?? 'live') as CampaignStatus | '';
  const q = params.get('q') ?? '';
  const list = useCampaignPages({ category: category || undefined, status: status || undefined, q: q || undefined });

  return (
    <>
      <h1>Discover campaigns</h1>
      <form className="filters" role="search" onSubmit={search}>
        <SelectField label="Category" value={category} onChange={(v) => set('category', v)} options={[{ value: '', label: 'All categories' }, ...CATEGORIES.map((c) => ({ value: c, label: words(c) }))]} />
        <SelectField label="Status" value={status} onChange={(v) => set('status', v)} options={[{ value: '', label: 'Any status' }, ...PUBLIC_STATUSES.map((s) => ({ value: s, label: words(s) }))]} />
        <Field label="Search" type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Title or story" />
        <button type="submit">Search</button>
      </form>
      <div aria-live="polite">
        {list.isPending ? (
          <Loading what="campaigns" />
        ) : list.isError ? (
          <ErrorBox error={list.error} retry={() => void list.refetch()} />
        ) : list.items.length === 0 ? (
          <Empty>No campaign matches. Try another category, status or search.</Empty>
        ) : (
          <>
            <CampaignGrid campaigns={list.items} />
            <LoadMore list={list} what="campaigns" />
          </>
        )}
      </div>
    </>
  );
}
