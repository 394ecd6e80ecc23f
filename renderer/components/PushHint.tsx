import { isLoopbackHost } from '../format';
import { CodeLine } from './CopyButton';

/** How to get an image into this registry, with this registry's own address filled in. */
export function PushHint({ host, compact = false }: { host: string; compact?: boolean }) {
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
      {!isLoopbackHost(host) && (
        <p className="muted small">
          Other machines talk to this registry over plain HTTP: list <code>{host}</code> under <code>insecure-registries</code> in their
          Docker daemon configuration (<code>/etc/docker/daemon.json</code>) first.
        </p>
      )}
    </div>
  );
}
