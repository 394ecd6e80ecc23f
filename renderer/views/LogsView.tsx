import { useState } from 'react';
import type { ApiRequestEvent } from '../../registry/api/contract';
import { useApi } from '../api';
import { Empty, ErrorNote, Spinner } from '../components/States';
import { formatBytes, formatDuration, formatTime } from '../format';
import { useLoad } from '../hooks';

const LIMIT = 500;

function statusClass(s: number): string {
  if (s >= 500) return 's5';
  if (s >= 400) return 's4';
  if (s >= 300) return 's3';
  return 's2';
}

export function LogsView() {
  const api = useApi();
  const [registryOnly, setRegistryOnly] = useState(true);
  const [live, setLive] = useState(true);
  const events = useLoad(
    () => api.recentEvents(LIMIT, { types: ['request'], registryOnly }).then((es) => es.filter((e): e is ApiRequestEvent => e.type === 'request')),
    `events:${registryOnly}`,
    live ? 2000 : 0,
  );

  return (
    <div className="logs">
      <div className="toolbar">
        <div>
          <h2>Requests</h2>
          <p className="muted small">Newest first, up to {LIMIT}. The full log is logs/lanyard.jsonl in the data folder.</p>
        </div>
        <div className="toolbar-actions">
          <label className="toggle">
            <input type="checkbox" checked={registryOnly} onChange={(e) => setRegistryOnly(e.target.checked)} />
            Registry traffic only
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
      {events.error && <ErrorNote error={events.error} what="the request log" />}
      {!events.data && !events.error && <Spinner />}
      {events.data?.length === 0 && <Empty title="No requests yet">Requests to the registry show up here as they happen.</Empty>}
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
            <tbody>
              {events.data.map((e, i) => (
                <tr key={`${e.time}:${i}`} className="log-row">
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
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
