import { useEffect, useState } from 'react';
import type { ApiAuthEvent, ApiEvent, ApiEventType, ApiRequestEvent } from '../../registry/api/contract';
import { isApiError, useApi } from '../api';
import { Empty, ErrorNote, Spinner } from '../components/States';
import { describeAuthEvent, formatBytes, formatDuration, formatTime } from '../format';
import { useLoad } from '../hooks';

const LIMIT = 500;

type Row = ApiRequestEvent | ApiAuthEvent;

function isRow(e: ApiEvent): e is Row {
  return e.type === 'request' || e.type === 'auth';
}

function statusClass(s: number): string {
  if (s >= 500) return 's5';
  if (s >= 400) return 's4';
  if (s >= 300) return 's3';
  return 's2';
}

export function LogsView() {
  const api = useApi();
  const [registryOnly, setRegistryOnly] = useState(true);
  const [showAuth, setShowAuth] = useState(true);
  const [live, setLive] = useState(true);
  // the log is for admins: once the registry says no, stop asking (and polling)
  const [denied, setDenied] = useState(false);
  const types: ApiEventType[] = showAuth ? ['request', 'auth'] : ['request'];
  const events = useLoad(
    denied ? null : () => api.recentEvents(LIMIT, { types, registryOnly }).then((es) => es.filter(isRow)),
    `events:${registryOnly}:${showAuth}`,
    live ? 2000 : 0,
  );
  useEffect(() => {
    if (isApiError(events.error, 'DENIED')) setDenied(true);
  }, [events.error]);

  if (denied) {
    return (
      <div className="logs">
        <div className="welcome narrow">
          <div className="card friendly" data-testid="logs-admin-only">
            <h2>The activity log is for admins</h2>
            <p>
              It shows every push, pull and login on this registry, so only admins can read it. You can still browse the repositories you have
              access to under <a href="#/repositories">Repositories</a>.
            </p>
            <p className="muted small">Need to see it? Ask an admin of this registry to give you the admin role.</p>
          </div>
        </div>
      </div>
    );
  }

  return (
    <div className="logs">
      <div className="toolbar">
        <div>
          <h2>Activity</h2>
          <p className="muted small">Newest first, up to {LIMIT}. The full log is logs/lanyard.jsonl in the data folder.</p>
        </div>
        <div className="toolbar-actions">
          <label className="toggle">
            <input type="checkbox" checked={registryOnly} onChange={(e) => setRegistryOnly(e.target.checked)} />
            Registry traffic only
          </label>
          <label className="toggle">
            <input type="checkbox" checked={showAuth} onChange={(e) => setShowAuth(e.target.checked)} />
            Logins and user changes
          </label>
          <label className="toggle">
            <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} />
            Live
          </label>
          <button type="button" className="btn" onClick={events.reload}>
            Refresh
          </button>
        </div>
      </div>
      {events.error && <ErrorNote error={events.error} what="the activity log" />}
      {!events.data && !events.error && <Spinner />}
      {events.data?.length === 0 && <Empty title="Nothing yet">Requests to the registry show up here as they happen.</Empty>}
      {events.data && events.data.length > 0 && (
        <div className="card table-card">
          <table className="grid log-table" aria-label="Request log">
            <thead>
              <tr>
                <th>Time</th>
                <th>Method</th>
                <th>Path</th>
                <th>Status</th>
                <th className="num">Received</th>
                <th className="num">Sent</th>
                <th className="num">Duration</th>
                <th>Client</th>
              </tr>
            </thead>
            <tbody>{events.data.map((e, i) => (e.type === 'auth' ? <AuthRow key={`${e.time}:${i}`} e={e} /> : <RequestRow key={`${e.time}:${i}`} e={e} />))}</tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function RequestRow({ e }: { e: ApiRequestEvent }) {
  return (
    <tr className="log-row">
      <td className="mono muted nowrap">{formatTime(e.time)}</td>
      <td>
        <span className={`method m-${e.method.toLowerCase()}`}>{e.method}</span>
      </td>
      <td className="mono path" title={e.path}>
        {e.path}
      </td>
      <td className="nowrap">
        <span className={`status ${statusClass(e.status)}`}>{e.status}</span>
        {e.error && <span className="err-code">{e.error}</span>}
      </td>
      <td className="num muted">{e.bytesIn ? formatBytes(e.bytesIn) : '–'}</td>
      <td className="num muted">{e.bytes ? formatBytes(e.bytes) : '–'}</td>
      <td className="num muted">{formatDuration(e.durationMs)}</td>
      <td className="mono muted">
        {e.addr ?? '–'}
        {e.user ? ` (${e.user})` : ''}
      </td>
    </tr>
  );
}

/** Logins, lockouts, denials and user changes: same table, their own look. */
function AuthRow({ e }: { e: ApiAuthEvent }) {
  const d = describeAuthEvent(e);
  return (
    <tr className={`log-row auth-row auth-${d.tone}`} data-action={e.action}>
      <td className="mono muted nowrap">{formatTime(e.time)}</td>
      <td>
        <span className="auth-badge">Auth</span>
      </td>
      <td className="auth-desc" colSpan={5}>
        <span className="auth-label">{d.label}</span>
        {d.text}
      </td>
      <td className="mono muted">
        {e.addr ?? ''}
        {e.by ? `${e.addr ? ' ' : ''}by ${e.by}` : ''}
        {!e.addr && !e.by ? '–' : ''}
      </td>
    </tr>
  );
}
