import path from 'node:path';
import type { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import type { Campaign } from '../config/campaign.js';
import { DialerError } from '../errors.js';
import { preflight, type PreflightReport } from '../loader/preflight.js';
import type { Runtime } from '../runtime.js';
import { parseCampaignBody } from './campaign-input.js';
import { HttpError } from './errors.js';
import { limitedCopy, UploadTooLarge } from './limit.js';

export interface CheckRouteOptions {
  uploadLimitBytes: number;
  resultsDir: string;
}

const CSV_TYPES = ['text/csv', 'application/csv', 'text/plain', 'application/octet-stream'];
/** Rejected rows listed in the answer (the counts cover all of them). */
const LIST_REJECTS = 100;

/**
 * POST /campaigns/check: `dialer check` over HTTP, behind the token. The
 * campaign comes as the `campaign` field of a multipart form (YAML or JSON
 * text, before the `file` field with the list), or names a campaign already
 * created with `?campaign=<name>`; the list is the form's `file` or a
 * text/csv body. Streamed like an upload; nothing is written to Redis.
 */
export async function checkRoute(app: FastifyInstance, rt: Runtime, o: CheckRouteOptions): Promise<void> {
  await app.register(async (scope) => {
    scope.addContentTypeParser(CSV_TYPES, (_req, payload, done) => done(null, payload));
    await scope.register(multipart, { throwFileSizeLimit: false, limits: { files: 1, fileSize: o.uploadLimitBytes + 1, fields: 10, fieldSize: 1024 * 1024 } });

    scope.post('/campaigns/check', async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const avg = q.avg_call_seconds === undefined ? undefined : Number(q.avg_call_seconds);
      if (avg !== undefined && !(Number.isFinite(avg) && avg > 0)) throw new HttpError(400, 'avg_call_seconds must be a positive number of seconds');
      let campaign: Campaign | undefined = typeof q.campaign === 'string' ? await existing(rt, q.campaign) : undefined;
      let report: PreflightReport | undefined;
      let failure: unknown;
      const run = async (input: Readable, source: string) => {
        if (!campaign) throw new HttpError(400, 'send the campaign (a "campaign" field before the file, or ?campaign=<name> of a campaign already created)');
        const body = limitedCopy(input, o.uploadLimitBytes);
        try {
          report = await preflight(
            { store: rt.store, hashKey: rt.env.hashKey, now: () => rt.clock.now(), accountCallsPerSecond: rt.env.maxCallsPerSecond, accountLiveCalls: rt.env.maxLiveCalls },
            { ...campaign, contactsPath: source },
            body,
            { avgCallSeconds: avg, listRejects: LIST_REJECTS },
          );
        } catch (e) {
          failure = e;
          body.destroy();
        }
      };
      if (req.isMultipart()) {
        for await (const part of req.parts()) {
          if (part.type === 'field' && part.fieldname === 'campaign' && !campaign) campaign = parseCampaignBody(String(part.value), o.resultsDir);
          else if (part.type === 'file' && report === undefined && failure === undefined) await run(part.file, fileName(part.filename));
          else if (part.type === 'file') part.file.resume();
          if (failure instanceof UploadTooLarge) break;
        }
        if (report === undefined && failure === undefined) throw new HttpError(400, 'the form has no file field with the contact list');
      } else {
        if (!req.body) throw new HttpError(400, 'send the contact list as a text/csv body or as a multipart form with a file field');
        await run(req.body as Readable, fileName(q.filename) || 'contacts.csv');
      }
      if (failure instanceof UploadTooLarge) reply.header('connection', 'close');
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      if (failure !== undefined) throw failure;
      return report!;
    });
  });
}

async function existing(rt: Runtime, name: string): Promise<Campaign> {
  const info = await rt.store.getCampaign(name);
  if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${name}"`);
  return info.campaign;
}

/** Only a base name, printable and short, ever reaches a message. */
function fileName(raw: unknown): string {
  if (typeof raw !== 'string') return '';
  return path.basename(raw.replace(/\\/g, '/')).replace(/[^\w.\- ]/g, '_').slice(0, 100);
}
