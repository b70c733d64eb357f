/** The documented error envelope and its stable codes (CONTRACT.md, "Error envelope"). */

export type ErrorCode =
  | 'IDEMPOTENCY_REQUIRED'
  | 'UNAUTHENTICATED'
  | 'BILLING_EXHAUSTED'
  | 'FORBIDDEN_SCOPE'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'IDEMPOTENCY_CONFLICT'
  | 'VALIDATION'
  | 'RATE_LIMITED'
  | 'PLATFORM_ERROR'
  | 'KILL_SWITCH';

export const STATUS_OF: Record<ErrorCode, number> = {
  IDEMPOTENCY_REQUIRED: 400,
  UNAUTHENTICATED: 401,
  BILLING_EXHAUSTED: 402,
  FORBIDDEN_SCOPE: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  IDEMPOTENCY_CONFLICT: 409,
  VALIDATION: 422,
  RATE_LIMITED: 429,
  PLATFORM_ERROR: 500,
  KILL_SWITCH: 503,
};

export type Details = Record<string, unknown>;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Details,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.status = STATUS_OF[code];
  }

  body(requestId: string): {
    error: { code: ErrorCode; message: string; requestId: string; details?: Details };
  } {
    const error: { code: ErrorCode; message: string; requestId: string; details?: Details } = {
      code: this.code,
      message: this.message,
      requestId,
    };
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

export const validation = (field: string, reason: string, extra?: Details): ApiError =>
  new ApiError('VALIDATION', `Invalid ${field}: ${reason}.`, { field, reason, ...extra });

export const notFound = (what = 'Resource'): ApiError => new ApiError('NOT_FOUND', `${what} not found.`);

export const conflict = (message: string, details: Details): ApiError =>
  new ApiError('CONFLICT', message, details);

export const archivedConflict = (orgId: string): ApiError =>
  conflict('The organization is archived; an archived organization is terminal.', {
    reason: 'archived',
    organizationId: orgId,
  });

export const forbiddenScope = (message: string, details: Details): ApiError =>
  new ApiError('FORBIDDEN_SCOPE', message, details);
