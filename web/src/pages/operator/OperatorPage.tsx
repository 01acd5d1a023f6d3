import { useUser } from '../../api/useSession';
import { ErrorBox } from '../../components/states';
import { QueryView } from '../../components/QueryView';
import { useTitle } from '../../lib/useTitle';
import { SignInPrompt } from '../backer/SignInPrompt';
import { AttentionList } from './AttentionList';
import { ProviderQueue } from './ProviderQueue';
import { ReconciliationCheck } from './ReconciliationCheck';
import { UserSearch } from './UserSearch';
import { useOverview } from './operatorApi';

/** The operators' dashboard: providers to approve, what needs attention (linked into the Temporal UI), accounts. */
export function OperatorPage() {
  useTitle('Operator dashboard');
  const user = useUser();
  if (!user) return <SignInPrompt what="the operator dashboard" />;
  if (user.role !== 'operator')
    return (
      <section className="narrow" aria-labelledby="operator-title">
        <h1 id="operator-title">Operator dashboard</h1>
        <p role="alert" className="error">
          Not allowed: this page is for the platform’s operators only.
        </p>
      </section>
    );
  return <Dashboard />;
}

function Dashboard() {
  const overview = useOverview();
  return (
    <section aria-labelledby="operator-title">
      <h1 id="operator-title">Operator dashboard</h1>
      <QueryView query={overview} what="the overview">
        {(data) => (
          <>
            <p className="lead">
              {data.pending_providers} provider{data.pending_providers === 1 ? '' : 's'} awaiting approval ·{' '}
              {Object.values(data.attention).reduce((a, b) => a + b, 0)} item(s) needing attention ·{' '}
              <a href={data.temporal.ui_url}>Temporal Web UI</a> (namespace {data.temporal.namespace})
            </p>
            <div className="columns">
              <div>
                <ProviderQueue temporal={data.temporal} />
                <AttentionList overview={data} />
              </div>
              <aside>
                <UserSearch />
                <ReconciliationCheck />
              </aside>
            </div>
          </>
        )}
      </QueryView>
    </section>
  );
}
