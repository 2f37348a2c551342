import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Who may call what:
 * - `public`: health probes and the status page's static shell (no data in it);
 * - `token`: `Authorization: Bearer <DIALER_API_TOKEN>` (every other route);
 * - `board`: Bull Board, which a browser opens as a page: the bearer token, or
 *   the session cookie the status page obtains from POST /session;
 * - `webhook`: the shared secret (X-Callease-Secret or ?secret=) when one is
 *   configured, or the bearer token;
 * - `page`: a route that is the campaign page's static shell to a browser
 *   asking for HTML without a token (see `wantsPage`), and a token route otherwise.
 */
export type AuthMode = 'public' | 'token' | 'board' | 'webhook' | 'page';

export const SESSION_COOKIE = 'dialer_session';
export const BOARD_PATH = '/admin/queues';

export interface AuthOptions {
  token: string;
  webhookSecret?: string;
}

/** Constant-time: both sides are hashed first, so neither content nor length leaks through timing. */
export function secretMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The cookie holds a MAC of the token, not the token: a leaked cookie can't be used as a bearer token. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('dialer-board-session-v1').digest('base64url');
}

export function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1] : undefined;
}

export function cookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

function query(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : undefined;
}

export function modeOf(req: FastifyRequest): AuthMode {
  const configured = (req.routeOptions.config as { auth?: AuthMode } | undefined)?.auth;
  if (configured) return configured;
  const path = req.url.split('?')[0]!;
  return path === BOARD_PATH || path.startsWith(`${BOARD_PATH}/`) ? 'board' : 'token';
}

/** A browser opening the page (HTML first, no bearer token) gets the shell; an API client gets the data. */
export function wantsPage(req: FastifyRequest): boolean {
  if (req.method !== 'GET' || req.headers.authorization) return false;
  const accept = String(req.headers.accept ?? '').toLowerCase();
  return accept.startsWith('text/html') || (accept.includes('text/html') && !accept.includes('application/json'));
}

export function authorized(req: FastifyRequest, mode: AuthMode, o: AuthOptions): boolean {
  if (mode === 'public' || (mode === 'page' && wantsPage(req))) return true;
  if (secretMatches(bearer(req), o.token)) return true;
  if (mode === 'board') return secretMatches(cookie(req, SESSION_COOKIE), sessionValue(o.token));
  if (mode === 'webhook' && o.webhookSecret) {
    const given = (req.headers['x-callease-secret'] as string | undefined) ?? query(req, 'secret');
    return secretMatches(given, o.webhookSecret);
  }
  return false;
}

/** Set-Cookie for the board session: HttpOnly, SameSite=Strict, scoped to the board's path. */
export function sessionCookie(req: FastifyRequest, token: string | null): string {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  const value = token === null ? '' : sessionValue(token);
  const age = token === null ? 0 : 12 * 3600;
  return `${SESSION_COOKIE}=${value}; Path=${BOARD_PATH}; HttpOnly; SameSite=Strict; Max-Age=${age}${secure}`;
}

export function unauthorized(reply: FastifyReply, mode: AuthMode): FastifyReply {
  const hint = mode === 'webhook'
    ? 'send the webhook secret (X-Callease-Secret header or ?secret=) or Authorization: Bearer <DIALER_API_TOKEN>'
    : 'send Authorization: Bearer <DIALER_API_TOKEN>';
  return reply.code(401).header('www-authenticate', 'Bearer realm="dialer"').send({ error: `unauthorized: ${hint}` });
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (default: `token`, or `board` under the board's path). */
    auth?: AuthMode;
  }
}
