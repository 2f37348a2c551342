import type { FastifyReply } from 'fastify';
import { DialerError, describeError } from '../errors.js';
import type { Logger } from '../log.js';

/** An error the service answers with its own status (409, 413, ...). */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

/** "upload.csv: line 7: a quoted field ..." → where and why, for a 400 body. */
export function csvErrorDetail(message: string): { file?: string; line?: number; reason: string } {
  const m = /^(.*?): line (\d+): ([\s\S]*)$/.exec(message);
  if (!m) return { reason: message };
  return { file: m[1], line: Number(m[2]), reason: m[3]! };
}

const STATUS: Partial<Record<DialerError['code'], number>> = {
  USAGE: 400,
  CONFIG_INVALID: 400,
  CAMPAIGN_INVALID: 400,
  CSV_INVALID: 400,
  CAMPAIGN_NOT_FOUND: 404,
  REDIS_UNAVAILABLE: 503,
};

/**
 * One JSON error shape for every route: `{error, code, ...detail}`. Our own
 * DialerErrors carry messages meant for the user; anything else is logged and
 * answered with a generic 500 so internals (paths, stack) don't leak.
 */
export function sendError(reply: FastifyReply, log: Logger, e: unknown): FastifyReply {
  if (e instanceof HttpError) return reply.code(e.status).send({ error: e.message, ...e.extra });
  if (e instanceof DialerError) {
    const status = STATUS[e.code];
    if (status) {
      const body: Record<string, unknown> = { error: e.message, code: e.code };
      if (e.code === 'CSV_INVALID') Object.assign(body, csvErrorDetail(e.message));
      return reply.code(status).send(body);
    }
  }
  const fastifyStatus = (e as { statusCode?: number }).statusCode;
  if (fastifyStatus && fastifyStatus >= 400 && fastifyStatus < 500) {
    return reply.code(fastifyStatus).send({ error: (e as Error).message, code: (e as { code?: string }).code });
  }
  log.error({ err: describeError(e) }, 'request failed');
  return reply.code(500).send({ error: 'internal error (see the server log)' });
}
