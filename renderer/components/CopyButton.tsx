import { useEffect, useState } from 'react';

/** Copy text; navigator.clipboard needs a secure context, so plain-HTTP LAN pages fall back. */
async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'offscreen';
  document.body.appendChild(ta);
  ta.select();
  try {
    document.execCommand('copy');
  } finally {
    ta.remove();
  }
}

/** `title` replaces the default tooltip (which shows the text: not wanted for secrets). */
export function CopyButton({ text, label = 'Copy', title, disabled = false }: { text: string; label?: string; title?: string; disabled?: boolean }) {
  const [state, setState] = useState<'idle' | 'done' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const t = setTimeout(() => setState('idle'), 1500);
    return () => clearTimeout(t);
  }, [state]);
  return (
    <button
      type="button"
      className={`copy-btn ${state}`}
      title={title ?? `Copy ${text}`}
      disabled={disabled}
      onClick={() => copyText(text).then(() => setState('done'), () => setState('failed'))}
    >
      {state === 'done' ? 'Copied' : state === 'failed' ? 'Failed' : label}
    </button>
  );
}

/** A one-line command or value in monospace, with a copy button. */
export function CodeLine({ text, prompt = false }: { text: string; prompt?: boolean }) {
  return (
    <div className="code-line">
      <code>
        {prompt && <span className="prompt">$ </span>}
        {text}
      </code>
      <CopyButton text={text} />
    </div>
  );
}
