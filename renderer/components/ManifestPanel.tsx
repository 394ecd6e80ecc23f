import type { DescriptorSummary, ManifestDetails, Platform } from '../../registry/api/contract';
import { useApi } from '../api';
import { formatBytes, shortDigest, shortMediaType } from '../format';
import { routeHref, useLoad } from '../hooks';
import { CodeLine, CopyButton } from './CopyButton';
import { ErrorNote, Spinner } from './States';

function kindLabel(m: ManifestDetails): string {
  if (m.kind === 'index') return m.mediaType.includes('docker') ? 'Manifest list' : 'Image index';
  if (m.kind === 'image') return m.artifactType ? 'Artifact' : 'Image';
  return 'Manifest';
}

function platformLabel(p?: Platform): string {
  if (!p) return '–';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function DigestCell({ d }: { d: DescriptorSummary }) {
  return (
    <td className="mono" title={d.digest}>
      {shortDigest(d.digest, 16)}
    </td>
  );
}

export function ManifestPanel({ repo, reference, host, digestHint }: { repo: string; reference: string; host: string; digestHint?: string | null }) {
  const api = useApi();
  // a moved tag has a new digest: reload then
  const m = useLoad(() => api.getManifest(repo, reference), `manifest:${repo}:${reference}:${digestHint ?? ''}`);
  if (m.error) return <ErrorNote error={m.error} what={`${repo}:${reference}`} />;
  if (!m.data) return <Spinner label="Loading manifest…" />;
  const d = m.data;
  const byDigest = reference.includes(':');
  const pull = `docker pull ${host}/${repo}${byDigest ? '@' : ':'}${reference}`;
  return (
    <article className="card manifest" aria-label="Manifest details">
      <div className="card-head">
        <h3>
          {repo}
          <span className="ref">{byDigest ? `@${shortDigest(reference, 12)}` : `:${reference}`}</span>
        </h3>
        <span className={`kind kind-${d.kind}`}>{kindLabel(d)}</span>
      </div>
      <dl className="facts">
        <dt>Digest</dt>
        <dd className="digest-line">
          <code className="mono digest" data-testid="manifest-digest">
            {d.digest}
          </code>
          <CopyButton text={d.digest} />
        </dd>
        <dt>Media type</dt>
        <dd className="mono">{d.mediaType}</dd>
        {d.artifactType && (
          <>
            <dt>Artifact type</dt>
            <dd className="mono">{d.artifactType}</dd>
          </>
        )}
        <dt>Manifest size</dt>
        <dd>{formatBytes(d.size)}</dd>
        <dt>Total size</dt>
        <dd>
          {formatBytes(d.totalSize)}{' '}
          <span className="muted">
            {d.kind === 'image'
              ? `manifest, config and ${d.layers.length} layer${d.layers.length === 1 ? '' : 's'}`
              : d.kind === 'index'
                ? `index and ${d.manifests.length} manifest${d.manifests.length === 1 ? '' : 's'}`
                : ''}
          </span>
        </dd>
        <dt>Pull</dt>
        <dd>
          <CodeLine text={pull} />
        </dd>
      </dl>

      {d.config && (
        <section>
          <h4>Config</h4>
          <table className="grid">
            <tbody>
              <tr>
                <DigestCell d={d.config} />
                <td className="mono muted">{shortMediaType(d.config.mediaType)}</td>
                <td className="num">{formatBytes(d.config.size)}</td>
              </tr>
            </tbody>
          </table>
        </section>
      )}

      {d.kind === 'image' && (
        <section>
          <h4>
            Layers <span className="count">{d.layers.length}</span>
          </h4>
          {d.layers.length === 0 ? (
            <p className="muted">No layers.</p>
          ) : (
            <table className="grid layers">
              <thead>
                <tr>
                  <th className="num">#</th>
                  <th>Digest</th>
                  <th>Media type</th>
                  <th className="num">Size</th>
                </tr>
              </thead>
              <tbody>
                {d.layers.map((l, i) => (
                  <tr key={`${i}:${l.digest}`}>
                    <td className="num muted">{i + 1}</td>
                    <DigestCell d={l} />
                    <td className="mono muted">{shortMediaType(l.mediaType)}</td>
                    <td className="num">{formatBytes(l.size)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}

      {d.kind === 'index' && (
        <section>
          <h4>
            Manifests <span className="count">{d.manifests.length}</span>
          </h4>
          <table className="grid">
            <thead>
              <tr>
                <th>Platform</th>
                <th>Digest</th>
                <th>Media type</th>
                <th className="num">Size</th>
              </tr>
            </thead>
            <tbody>
              {d.manifests.map((c) => (
                <tr key={c.digest}>
                  <td>{platformLabel(c.platform)}</td>
                  <td className="mono" title={c.digest}>
                    <a href={routeHref({ view: 'repositories', repo, ref: c.digest })}>{shortDigest(c.digest, 16)}</a>
                  </td>
                  <td className="mono muted">{shortMediaType(c.mediaType)}</td>
                  <td className="num">{formatBytes(c.size)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}

      {d.subject && (
        <section>
          <h4>Subject</h4>
          <p className="mono">
            <a href={routeHref({ view: 'repositories', repo, ref: d.subject.digest })}>{d.subject.digest}</a>
          </p>
        </section>
      )}

      {Object.keys(d.annotations).length > 0 && (
        <section>
          <h4>Annotations</h4>
          <dl className="facts small">
            {Object.entries(d.annotations).map(([k, v]) => (
              <div key={k} className="fact-pair">
                <dt className="mono">{k}</dt>
                <dd className="mono">{v}</dd>
              </div>
            ))}
          </dl>
        </section>
      )}

      <details className="raw">
        <summary>Raw manifest</summary>
        <pre>{JSON.stringify(d.manifest, null, 2)}</pre>
      </details>
    </article>
  );
}
