import { useApi } from './api';
import { CopyButton } from './components/CopyButton';
import { Logo } from './components/Logo';
import { PushHint } from './components/PushHint';
import { formatUptime } from './format';
import { routeHref, useLoad, useRoute } from './hooks';
import { LogsView } from './views/LogsView';
import { RepositoriesView } from './views/RepositoriesView';

export function App() {
  const api = useApi();
  const route = useRoute();
  const status = useLoad(() => api.getStatus(), 'status', 10_000);
  const s = status.data;
  const host = s?.host ?? window.location.host;

  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href={routeHref({ view: 'repositories' })}>
          <Logo />
          <span>
            <span className="brand-name">Lanyard</span>
            <span className="brand-sub">Private container registry</span>
          </span>
        </a>
        <div className="server-status" aria-live="polite">
          {s ? (
            <>
              <span className="dot ok" title="Registry running" />
              <span className="status-label">Registry</span>
              <code className="url" data-testid="registry-url">
                {s.url}
              </code>
              <CopyButton text={s.host} label="Copy address" />
              <span className="meta" title={`Data folder: ${s.dataDir}`}>
                v{s.version} · up {formatUptime(s.uptime)}
                {s.deleteEnabled ? ' · deletes on' : ''}
              </span>
            </>
          ) : status.error ? (
            <>
              <span className="dot bad" />
              <span className="status-label">Registry unreachable</span>
              <span className="meta">{status.error.message}</span>
            </>
          ) : (
            <span className="meta">Connecting…</span>
          )}
        </div>
      </header>
      <nav className="tabs" aria-label="Views">
        <a href={routeHref({ view: 'repositories' })} className={route.view === 'repositories' ? 'active' : undefined}>
          Repositories
        </a>
        <a href={routeHref({ view: 'logs' })} className={route.view === 'logs' ? 'active' : undefined}>
          Logs
        </a>
        <span className="spacer" />
        <PushHint compact host={host} />
      </nav>
      <main className="main">
        {route.view === 'logs' ? <LogsView /> : <RepositoriesView repo={route.repo} reference={route.ref} host={host} status={s} />}
      </main>
    </div>
  );
}
