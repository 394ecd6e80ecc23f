import { useEffect, useState } from 'react';
import type { InitialAdmin } from '../registry/api/contract';
import { isApiError, useApi, type ApiClient } from './api';
import { CopyButton } from './components/CopyButton';
import { InitialAdminModal } from './components/InitialAdminModal';
import { Logo } from './components/Logo';
import { PushHint } from './components/PushHint';
import { SessionBadge } from './components/SessionBadge';
import { ErrorNote, Spinner } from './components/States';
import { formatUptime } from './format';
import { routeHref, useLoad, useRoute } from './hooks';
import { LogsView } from './views/LogsView';
import { RepositoriesView } from './views/RepositoriesView';
import { ShareView } from './views/ShareView';
import { UsersView } from './views/UsersView';

// takeInitialAdmin answers once per registry start: share the one call between StrictMode's
// double-run effects (and any remount), so the password is never fetched and then dropped.
const initialAdminCalls = new WeakMap<ApiClient, Promise<InitialAdmin | null>>();
function takeInitialAdminOnce(api: ApiClient): Promise<InitialAdmin | null> {
  let p = initialAdminCalls.get(api);
  if (!p) {
    p = api.takeInitialAdmin().catch(() => null);
    initialAdminCalls.set(api, p);
  }
  return p;
}

export function App() {
  const api = useApi();
  const route = useRoute();
  const status = useLoad(() => api.getStatus(), 'status', 10_000);
  const session = useLoad(() => api.whoAmI(), 'session', 30_000);
  const s = status.data;
  const host = s?.host ?? window.location.host;
  const isAdmin = session.data?.isAdmin === true;

  // desktop app, first start with users: show the generated admin password once
  const [initialAdmin, setInitialAdmin] = useState<InitialAdmin | null>(null);
  useEffect(() => {
    if (api.transport !== 'ipc') return;
    let live = true;
    takeInitialAdminOnce(api).then((a) => {
      if (live && a) setInitialAdmin(a);
    });
    return () => {
      live = false;
    };
  }, [api]);

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
          ) : isApiError(status.error, 'UNAUTHORIZED') ? (
            <>
              <span className="dot warn" />
              <span className="status-label">Registry</span>
              <span className="meta">log in to see its status</span>
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
        <SessionBadge session={session} transport={api.transport} />
      </header>
      <nav className="tabs" aria-label="Views">
        <a href={routeHref({ view: 'repositories' })} className={route.view === 'repositories' ? 'active' : undefined}>
          Repositories
        </a>
        <a href={routeHref({ view: 'share' })} className={route.view === 'share' ? 'active' : undefined}>
          Share
        </a>
        <a href={routeHref({ view: 'logs' })} className={route.view === 'logs' ? 'active' : undefined}>
          Logs
        </a>
        {isAdmin && (
          <a href={routeHref({ view: 'users' })} className={route.view === 'users' ? 'active' : undefined}>
            Users
          </a>
        )}
        <span className="spacer" />
        <PushHint compact host={host} />
      </nav>
      <main className="main">
        {route.view === 'share' ? (
          <ShareView session={session.data} status={s} />
        ) : route.view === 'logs' ? (
          <LogsView />
        ) : route.view === 'users' ? (
          session.data?.isAdmin ? (
            <UsersView session={session.data} onSessionChange={session.reload} host={host} />
          ) : session.error ? (
            <div className="page">
              <ErrorNote error={session.error} what="your session" />
            </div>
          ) : session.data ? (
            <div className="page">
              <div className="note info" role="note">
                <strong>Users are managed by admins.</strong> Ask an admin of this registry to add people or change roles.
              </div>
            </div>
          ) : (
            <Spinner />
          )
        ) : (
          <RepositoriesView repo={route.repo} reference={route.ref} host={host} status={s} />
        )}
      </main>
      {initialAdmin && (s || status.error) && (
        <InitialAdminModal
          admin={initialAdmin}
          host={s?.host ?? ''}
          onClose={() => {
            setInitialAdmin(null);
            session.reload();
          }}
        />
      )}
    </div>
  );
}
