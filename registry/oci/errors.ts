// The one table of registry error codes (OCI Distribution v1.1 plus the few registry:2 adds),
// and the error type every layer throws. The HTTP error middleware is the only place that
// turns these into responses.

export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  // registry:2 additions
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class OciError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  /** extra response headers (e.g. Range on 416, WWW-Authenticate on 401, Retry-After on 429) */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, detail?: unknown, opts: { status?: number; headers?: Record<string, string> } = {}) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'OciError';
    this.code = code;
    this.status = opts.status ?? ERROR_CODES[code].status;
    this.detail = detail;
    this.headers = opts.headers ?? {};
  }

  toJSON(): { errors: Array<{ code: string; message: string; detail?: unknown }> } {
    const e: { code: string; message: string; detail?: unknown } = { code: this.code, message: this.message };
    if (this.detail !== undefined) e.detail = this.detail;
    return { errors: [e] };
  }
}

export function isOciError(e: unknown): e is OciError {
  return e instanceof OciError;
}
