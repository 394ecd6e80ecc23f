/** The Lanyard mark: a badge on a strap (same drawing as the app and tray icons). */
export function Logo({ size = 28 }: { size?: number }) {
  return (
    <svg className="logo" width={size} height={size} viewBox="0 0 32 32" aria-hidden="true">
      <path d="M5.5 2.5 16 12.5 26.5 2.5" strokeWidth="2.6" strokeLinecap="round" strokeLinejoin="round" fill="none" className="logo-strap" />
      <path
        className="logo-badge"
        fillRule="evenodd"
        d="M10 13h12a3 3 0 0 1 3 3v11a3 3 0 0 1-3 3H10a3 3 0 0 1-3-3V16a3 3 0 0 1 3-3Zm3 2.6a1 1 0 0 0 0 2h6a1 1 0 0 0 0-2Z"
      />
    </svg>
  );
}
