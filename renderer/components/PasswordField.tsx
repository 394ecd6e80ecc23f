import { useId, useState } from 'react';
import { CopyButton } from './CopyButton';

// No look-alikes (0/O, 1/l/I), so a password read off the screen is typed right.
const ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A random password (crypto.getRandomValues works on plain-HTTP pages too). */
export function generatePassword(length = 20): string {
  const out: string[] = [];
  // reject bytes past the last full multiple of the alphabet size: no modulo bias
  const limit = 256 - (256 % ALPHABET.length);
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < limit && out.length < length) out.push(ALPHABET[b % ALPHABET.length]);
    }
  }
  return out.join('');
}

/** Bcrypt (the htpasswd format) looks at 72 bytes at most; the registry wants at least 8. */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 72;

export function PasswordField({
  label,
  value,
  onChange,
  autoFocus = false,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  autoFocus?: boolean;
}) {
  const id = useId();
  const [shown, setShown] = useState(false);
  return (
    <div className="field password-field">
      <label htmlFor={id}>{label}</label>
      <div className="input-group">
        <input
          id={id}
          className="input mono-input"
          type={shown ? 'text' : 'password'}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          autoComplete="new-password"
          spellCheck={false}
          autoCapitalize="off"
          minLength={PASSWORD_MIN}
          maxLength={PASSWORD_MAX}
          placeholder={`at least ${PASSWORD_MIN} characters`}
          autoFocus={autoFocus}
          required
        />
        <button type="button" className="btn" onClick={() => setShown(!shown)} aria-pressed={shown} title={shown ? 'Hide the password' : 'Show the password'}>
          {shown ? 'Hide' : 'Show'}
        </button>
        <button
          type="button"
          className="btn"
          onClick={() => {
            onChange(generatePassword());
            setShown(true);
          }}
          title="Fill in a random 20-character password"
        >
          Generate
        </button>
        <CopyButton text={value} title="Copy the password" disabled={!value} />
      </div>
    </div>
  );
}
