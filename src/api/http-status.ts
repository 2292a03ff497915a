// The gateway's mapping between gRPC status codes and HTTP statuses.

/** gRPC status codes (grpc-js `status`), the ones this module maps. */
export const GRPC = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * The HTTP status for a gRPC status code: OK->200, INVALID_ARGUMENT->400,
 * UNAUTHENTICATED->401, PERMISSION_DENIED->403, NOT_FOUND->404,
 * RESOURCE_EXHAUSTED->429, UNAVAILABLE->503, DEADLINE_EXCEEDED->504, any
 * other code->500.
 */
export function grpcToHttpStatus(code: number): number {
  switch (code) {
    case GRPC.OK:
      return 200;
    case GRPC.INVALID_ARGUMENT:
      return 400;
    case GRPC.UNAUTHENTICATED:
      return 401;
    case GRPC.PERMISSION_DENIED:
      return 403;
    case GRPC.NOT_FOUND:
      return 404;
    case GRPC.RESOURCE_EXHAUSTED:
      return 429;
    case GRPC.UNAVAILABLE:
      return 503;
    case GRPC.DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

/** The gRPC status an HTTP status stands for (the reverse of grpcToHttpStatus, for metric labels). */
export function httpToGrpcStatus(status: number): number {
  if (status >= 200 && status < 300) return GRPC.OK;
  switch (status) {
    case 400:
    case 413:
      return GRPC.INVALID_ARGUMENT;
    case 401:
      return GRPC.UNAUTHENTICATED;
    case 403:
      return GRPC.PERMISSION_DENIED;
    case 404:
      return GRPC.NOT_FOUND;
    case 429:
      return GRPC.RESOURCE_EXHAUSTED;
    case 503:
      return GRPC.UNAVAILABLE;
    case 504:
      return GRPC.DEADLINE_EXCEEDED;
    default:
      return status >= 400 && status < 500 ? GRPC.INVALID_ARGUMENT : GRPC.INTERNAL;
  }
}
