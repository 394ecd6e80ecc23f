import { useMemo, useState } from 'react';
import type { RegistryStatus, TagSummary } from '../../registry/api/contract';
import { isApiError, useApi } from '../api';
import { CodeLine } from '../components/CopyButton';
import { ManifestPanel } from '../components/ManifestPanel';
import { PushHint } from '../components/PushHint';
import { Empty, ErrorNote, LoginHint, Spinner } from '../components/States';
import { shortDigest } from '../format';
import { routeHref, useLoad } from '../hooks';

const POLL_MS = 5000;

export function RepositoriesView({ repo, reference, host, status }: { repo?: string; reference?: string; host: string; status?: RegistryStatus }) {
  const api = useApi();
  const repos = useLoad(() => api.listRepositories(), 'repositories', POLL_MS);
  const [filter, setFilter] = useState('');
  const shown = useMemo(() => (repos.data ?? []).filter((r) => r.name.includes(filter.trim().toLowerCase())), [repos.data, filter]);

  return (
    <div className="repos-layout">
      <aside className="sidebar" aria-label="Repositories">
        <div className="sidebar-head">
          <h2>Repositories</h2>
          {repos.data && <span className="count">{repos.data.length}</span>}
        </div>
        <input className="filter" type="search" placeholder="Filter repositories" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Filter repositories" />
        {isApiError(repos.error, 'UNAUTHORIZED') ? (
          <p className="muted pad">Log in to see the repositories.</p>
        ) : (
          repos.error && <ErrorNote error={repos.error} what="repositories" />
        )}
        {!repos.data && !repos.error && <Spinner />}
        {repos.data && shown.length === 0 && <p className="muted pad">{repos.data.length === 0 ? 'Nothing pushed yet.' : 'No repository matches.'}</p>}
        <ul className="repo-list">
          {shown.map((r) => (
            <li key={r.name}>
              <a href={routeHref({ view: 'repositories', repo: r.name })} className={r.name === repo ? 'selected' : undefined} aria-current={r.name === repo ? 'page' : undefined}>
                <span className="repo-name">{r.name}</span>
                <span className="badge">
                  {r.tagCount} {r.tagCount === 1 ? 'tag' : 'tags'}
                </span>
              </a>
            </li>
          ))}
        </ul>
      </aside>
      <section className="content">
        {repo ? (
          <RepositoryDetail key={repo} repo={repo} reference={reference} host={host} />
        ) : (
          <Welcome host={host} status={status} count={repos.data?.length} locked={isApiError(repos.error, 'UNAUTHORIZED')} />
        )}
      </section>
    </div>
  );
}

function Welcome({ host, status, count, locked = false }: { host: string; status?: RegistryStatus; count?: number; locked?: boolean }) {
  if (locked) {
    return (
      <div className="welcome">
        <div className="card">
          <h2>Log in to browse this registry</h2>
          <p>
            <LoginHint />
          </p>
          <p>Docker needs a login too before it can push or pull:</p>
          <CodeLine prompt text={`docker login ${host}`} />
        </div>
      </div>
    );
  }
  return (
    <div className="welcome">
      <div className="card">
        <h2>{count ? 'Pick a repository' : 'Your registry is ready'}</h2>
        <p>
          {count
            ? `This registry holds ${count} ${count === 1 ? 'repository' : 'repositories'}. Choose one on the left to see its tags and manifests, or push another:`
            : 'Nothing has been pushed yet. Push an image from this machine (or a VM on your network):'}
        </p>
        <PushHint host={host} https={status?.url.startsWith('https:') ?? false} />
        {status && (
          <p className="muted small">
            Images are stored in <code>{status.dataDir}</code>
          </p>
        )}
      </div>
    </div>
  );
}

function pickDefault(tags: TagSummary[] | undefined): string | undefined {
  if (!tags?.length) return undefined;
  return tags.find((t) => t.name === 'latest')?.name ?? tags[tags.length - 1].name;
}

function RepositoryDetail({ repo, reference, host }: { repo: string; reference?: string; host: string }) {
  const api = useApi();
  const tags = useLoad(() => api.listTags(repo), `tags:${repo}`, POLL_MS);
  const selected = reference ?? pickDefault(tags.data);
  const selectedTag = tags.data?.find((t) => t.name === selected);

  return (
    <div className="repo-detail">
      <header className="repo-head">
        <div>
          <div className="eyebrow">Repository</div>
          <h1>{repo}</h1>
        </div>
        <CodeLine prompt text={`docker pull ${host}/${repo}:${selectedTag?.name ?? pickDefault(tags.data) ?? 'latest'}`} />
      </header>
      {tags.error && <ErrorNote error={tags.error} what={`the tags of ${repo}`} />}
      <div className="repo-body">
        <div className="card tags-card" aria-label="Tags">
          <div className="card-head">
            <h3>Tags</h3>
            {tags.data && <span className="count">{tags.data.length}</span>}
          </div>
          {!tags.data && !tags.error && <Spinner />}
          {tags.data?.length === 0 && <Empty title="No tags">Manifests pushed by digest only.</Empty>}
          <ul className="tag-list">
            {tags.data?.map((t) => (
              <li key={t.name}>
                <a href={routeHref({ view: 'repositories', repo, ref: t.name })} className={t.name === selected ? 'selected' : undefined} aria-current={t.name === selected ? 'true' : undefined}>
                  <span className="tag-name">{t.name}</span>
                  <span className="mono muted tag-digest" title={t.digest ?? 'broken tag link'}>
                    {shortDigest(t.digest, 10)}
                  </span>
                </a>
              </li>
            ))}
          </ul>
        </div>
        <div className="manifest-col">
          {selected ? (
            <ManifestPanel repo={repo} reference={selected} host={host} digestHint={selectedTag?.digest} />
          ) : (
            tags.data && <Empty title="Nothing to show">Select a tag to see its manifest.</Empty>
          )}
        </div>
      </div>
    </div>
  );
}
