/**
 * The gateway's single error handler: a LockError becomes application/problem+json with its catalog
 * code; a validation failure is LOCK.VALIDATION; anything else is a detail-free 500, logged with cause.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ErrorCatalog, type ErrorCode, isLockError } from '../errors.ts';
import { pathOf } from './requestLog.ts';

export function sendProblem(
  reply: FastifyReply,
  code: ErrorCode,
  detail?: string,
  headers: Record<string, string> = {},
) {
  const { status, title } = ErrorCatalog[code];
  return reply
    .code(status)
    .headers(headers)
    .type('application/problem+json')
    .send({
      type: `https://docs.lock-integration/errors#${code}`,
      title,
      status,
      ...(detail ? { detail } : {}),
      code,
    });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isLockError(error)) {
      const headers: Record<string, string> = {};
      if (error.retryAfterMs !== undefined)
        headers['retry-after'] = String(Math.ceil(error.retryAfterMs / 1000));
      return sendProblem(reply, error.code, error.detail, headers);
    }
    if (error.validation)
      return sendProblem(
        reply,
        'LOCK.VALIDATION',
        `${error.validationContext ?? 'request'}: ${error.message}`,
      );
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(reply, 'LOCK.PAYLOAD_TOO_LARGE');
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, 'LOCK.VALIDATION', error.message);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, 'LOCK.INTERNAL');
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 'LOCK.NOT_FOUND', `${request.method} ${pathOf(request)}`),
  );
}
