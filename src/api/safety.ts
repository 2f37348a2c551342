/**
 * Keeping secrets and phone numbers out of what the client reports:
 * base-URL policy, scrubbing of server text, masking of paths.
 */
import { DialerError } from '../errors.js';
import { maskPhone } from '../log.js';

/**
 * 127.0.0.0/8, ::1 and the name `localhost` itself. Not `*.localhost`: such a
 * name can be a container's network alias, and plain HTTP to it crosses a network.
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (h === 'localhost') return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

export interface BaseUrlPolicy {
  /**
   * CALLEASE_ALLOW_INSECURE_HTTP=1: plain http:// to any host (the demo's
   * simulator container). Never for the real API: the key would cross the network in clear.
   */
  allowInsecureHttp?: boolean;
}

/** Parses and checks a base URL: https anywhere, http only on loopback (or with the explicit opt-in). Trailing slashes dropped. */
export function validateBaseUrl(baseUrl: string, policy: BaseUrlPolicy = {}): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new DialerError('CONFIG_INVALID', 'Callease base URL is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new DialerError('CONFIG_INVALID', `Callease base URL must be https:// (got ${url.protocol}//)`);
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && !policy.allowInsecureHttp) {
    throw new DialerError(
      'CONFIG_INVALID',
      `Callease base URL must use https:// (TLS 1.2+); plain http:// is allowed only for loopback addresses (127.0.0.0/8, ::1, localhost), not ${url.hostname} (CALLEASE_ALLOW_INSECURE_HTTP=1 allows it, for a simulator only)`,
    );
  }
  if (url.username || url.password) {
    throw new DialerError('CONFIG_INVALID', 'Callease base URL must not carry credentials; use the API key setting');
  }
  url.pathname = url.pathname.replace(/\/+$/, '');
  url.search = '';
  url.hash = '';
  return url;
}

/** Replaces every occurrence of each secret in `text`. Secrets shorter than 4 chars are ignored. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length < 4) continue;
    out = out.split(s).join('[redacted]');
  }
  return out;
}

/**
 * Masks phone numbers in a message meant for people/logs: the request's own
 * number (as given and digits-only) and any '+'-prefixed number.
 */
export function maskPhones(text: string, phones: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const p of phones) {
    if (!p || p.length < 5) continue;
    out = out.split(p).join(maskPhone(p));
    const digits = p.replace(/\D/g, '');
    if (digits.length >= 7) out = out.split(digits).join(maskPhone(digits));
  }
  return out.replace(/\+\d[\d\s().-]{5,}\d/g, (m) => maskPhone(m.replace(/[^\d+]/g, '')));
}

/** Deep copy of a parsed body with every string scrubbed of secrets (the server may echo the key). */
export function scrubDeep(v: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof v === 'string') return scrubSecrets(v, secrets);
  if (depth > 20 || typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map((x) => scrubDeep(x, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[scrubSecrets(k, secrets)] = scrubDeep(x, secrets, depth + 1);
  return out;
}

/** A path+query for errors and metrics, with a `phoneNumber`-like query value masked. */
export function safePath(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf('?');
  if (q < 0) return pathAndQuery;
  const parts = pathAndQuery.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    if (eq < 0) return pair;
    const key = pair.slice(0, eq);
    if (!/phone|^to$|number/i.test(key)) return pair;
    let value: string;
    try {
      value = decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' ')).trim();
    } catch {
      value = pair.slice(eq + 1);
    }
    // Display only: not meant to be sent again.
    return `${key}=${maskPhone(value)}`;
  });
  return `${pathAndQuery.slice(0, q)}?${parts.join('&')}`;
}

export function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
