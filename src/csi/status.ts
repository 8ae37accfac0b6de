// CSI answers errors as gRPC status codes (the spec's "Error Scheme" per RPC): CsiError carries one, and
// every other error is mapped from its errno here, once, so a handler just throws.
import { status } from '@grpc/grpc-js';
import { redactText } from '../meta/urls.js';

export class CsiError extends Error {
  constructor(readonly code: status, message: string) {
    super(message);
  }
}

export const invalid = (m: string) => new CsiError(status.INVALID_ARGUMENT, m);
export const notFound = (m: string) => new CsiError(status.NOT_FOUND, m);
export const exists = (m: string) => new CsiError(status.ALREADY_EXISTS, m);
export const precondition = (m: string) => new CsiError(status.FAILED_PRECONDITION, m);

const BY_ERRNO: Record<string, status> = {
  ENOENT: status.NOT_FOUND,
  EEXIST: status.ALREADY_EXISTS,
  EINVAL: status.INVALID_ARGUMENT,
  EACCES: status.PERMISSION_DENIED,
  EPERM: status.PERMISSION_DENIED,
  EROFS: status.FAILED_PRECONDITION,
  ENOTEMPTY: status.FAILED_PRECONDITION,
  ENOTDIR: status.FAILED_PRECONDITION,
  ENOSPC: status.RESOURCE_EXHAUSTED,
  EDQUOT: status.RESOURCE_EXHAUSTED,
  ECONNREFUSED: status.UNAVAILABLE,
  ETIMEDOUT: status.UNAVAILABLE,
  ECONNRESET: status.UNAVAILABLE,
};

/** The gRPC status and a one-line message (URL passwords hidden) of any error a handler threw. */
export function toStatus(e: unknown): { code: status; details: string } {
  if (e instanceof CsiError) return { code: e.code, details: redactText(e.message) };
  const code = (e as { code?: unknown })?.code;
  const message = redactText(String((e as Error)?.message ?? e).split('\n')[0]!);
  return { code: typeof code === 'string' ? (BY_ERRNO[code] ?? status.INTERNAL) : status.INTERNAL, details: message };
}
