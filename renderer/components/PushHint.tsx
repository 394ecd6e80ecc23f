import { isLoopbackHost } from '../format';
import { routeHref } from '../hooks';
import { CodeLine } from './CopyButton';

/** How to get an image into this registry, with this registry's own address filled in. */
export function PushHint({ host, compact = false, https = false }: { host: string; compact?: boolean; https?: boolean }) {
  const image = `${host}/my-app:latest`;
  if (compact) {
    return (
      <div className="push-hint compact" title="Tag an image with this registry's address, then push it">
        <span className="push-hint-label">Push</span>
        <CodeLine text={`docker push ${image}`} />
      </div>
    );
  }
  return (
    <div className="push-hint">
      <p>Tag an image with this registry's address, then push it:</p>
      <CodeLine prompt text={`docker tag my-app:latest ${image}`} />
      <CodeLine prompt text={`docker push ${image}`} />
      {!isLoopbackHost(host) && https && (
        <p className="muted small">
          Other machines need to trust this registry's certificate first: <a href={routeHref({ view: 'share' })}>Share</a> has the one-line command
          that sets them up.
        </p>
      )}
      {!isLoopbackHost(host) && !https && (
        <p className="muted small">
          Other machines talk to this registry over plain HTTP: list <code>{host}</code> under <code>insecure-registries</code> in their
          Docker daemon configuration (<code>/etc/docker/daemon.json</code>) first.
        </p>
      )}
    </div>
  );
}
