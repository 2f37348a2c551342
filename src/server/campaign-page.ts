import type { FastifyInstance, FastifyRequest } from 'fastify';
import { listDeadLetters, retryDeadLetters } from '../campaign/dlq.js';
import { rowDetail } from '../campaign/row-detail.js';
import { rowsPage, type RowQuery } from '../campaign/rows-page.js';
import { DialerError } from '../errors.js';
import { campaignReport } from '../report/build.js';
import type { CampaignReport } from '../report/figures.js';
import { renderReportHtml, REPORT_CSP } from '../report/html.js';
import type { Runtime } from '../runtime.js';
import { HttpError } from './errors.js';

type Named = FastifyRequest<{ Params: { name: string }; Querystring: Record<string, string | undefined> }>;

/** Dead letters one page shows at most (the report counts all). */
const DEAD_LETTERS_SHOWN = 500;

function intParam(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new DialerError('USAGE', `${name}: expected a whole number, got "${v.slice(0, 40)}"`);
  return Number(v);
}

function pricePerMinute(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new DialerError('USAGE', `price_per_minute: expected a number ≥ 0, got "${v.slice(0, 40)}"`);
  return n;
}

/** `?format=json` wins (links can't set Accept), else Accept: application/json; else HTML. */
function wantsJson(req: FastifyRequest): boolean {
  const q = (req.query as Record<string, unknown>).format;
  if (q === 'json') return true;
  if (q === 'html') return false;
  const accept = String(req.headers.accept ?? '').toLowerCase();
  return accept.includes('application/json') && !accept.includes('text/html');
}

/**
 * The page refreshes its charts every few seconds; on a large campaign a
 * report reads every row, so `?live=1` reuses one computed within the last
 * max(3 s, 20 × the time it took) seconds: the refresh costs the server at
 * most about 5 % of its time, whatever the campaign's size.
 */
class LiveReports {
  private readonly cache = new Map<string, { at: number; ms: number; price?: number; report: CampaignReport }>();

  async get(rt: Runtime, id: string, price: number | undefined): Promise<CampaignReport> {
    const hit = this.cache.get(id);
    const now = Date.now();
    if (hit && hit.price === price && now - hit.at < Math.max(3000, 20 * hit.ms)) return hit.report;
    const report = await campaignReport(rt, id, { pricePerMinute: price });
    this.cache.set(id, { at: Date.now(), ms: Date.now() - now, price, report });
    return report;
  }
}

/** The report route and the JSON routes of the campaign page (all behind the token). */
export async function campaignPageRoutes(app: FastifyInstance, rt: Runtime): Promise<void> {
  const live = new LiveReports();
  app.get('/campaigns/:name/report', async (req: Named, reply) => {
    const price = pricePerMinute(req.query.price_per_minute);
    const report = req.query.live === '1' ? await live.get(rt, req.params.name, price) : await campaignReport(rt, req.params.name, { pricePerMinute: price });
    reply.header('cache-control', 'no-store');
    if (wantsJson(req)) return reply.send(report);
    return reply.type('text/html; charset=utf-8').header('content-security-policy', REPORT_CSP).header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer').send(renderReportHtml(report, new Date().toISOString()));
  });

  /** One page of rows; `server_ms` is the time this server spent on it. */
  app.get('/campaigns/:name/rows', async (req: Named, reply) => {
    const t0 = process.hrtime.bigint();
    const q: RowQuery = {
      after: intParam(req.query.after, 'after'),
      limit: intParam(req.query.limit, 'limit'),
      outcome: req.query.outcome || undefined,
      state: req.query.state || undefined,
      q: req.query.q || undefined,
      cursor: req.query.cursor || undefined,
    };
    const page = await rowsPage(rt.store, req.params.name, q);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    return reply.header('cache-control', 'no-store').header('server-timing', `rows;dur=${ms.toFixed(1)}`).send({ ...page, server_ms: Math.round(ms * 10) / 10 });
  });

  app.get('/campaigns/:name/rows/:row', async (req: FastifyRequest<{ Params: { name: string; row: string } }>, reply) => {
    const row = intParam(req.params.row, 'row')!;
    const d = await rowDetail(rt.store, req.params.name, row);
    if (!d) throw new HttpError(404, `campaign "${req.params.name}" has no row ${row}`);
    return reply.header('cache-control', 'no-store').send(d);
  });

  app.get('/campaigns/:name/dead-letters', async (req: Named, reply) => {
    const all = await listDeadLetters(rt, req.params.name);
    return reply.header('cache-control', 'no-store').send({ total: all.length, dead_letters: all.slice(0, DEAD_LETTERS_SHOWN) });
  });

  /** Sends dead letters back once each (dlq retry): `{rows: [..]}` for some, `{reason}` for those whose error contains it, `{}` for all. */
  app.post('/campaigns/:name/dead-letters/retry', async (req: FastifyRequest<{ Params: { name: string }; Body: unknown }>) => {
    const body = (req.body ?? {}) as { rows?: unknown; reason?: unknown };
    if (body.rows !== undefined && !(Array.isArray(body.rows) && body.rows.every((r) => Number.isInteger(r) && (r as number) > 0))) {
      throw new DialerError('USAGE', 'rows: expected a list of row numbers');
    }
    if (body.reason !== undefined && typeof body.reason !== 'string') throw new DialerError('USAGE', 'reason: expected text');
    return retryDeadLetters(rt, req.params.name, { rows: body.rows as number[] | undefined, reason: body.reason });
  });
}
