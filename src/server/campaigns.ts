import path from 'node:path';
import type { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { campaignStatus } from '../campaign/status.js';
import { pauseCampaign, resumeCampaign } from '../campaign/control.js';
import { DialerError } from '../errors.js';
import type { Dialer } from '../dialer.js';
import type { Runtime } from '../runtime.js';
import { parseCampaignBody } from './campaign-input.js';
import { HttpError } from './errors.js';
import { limitedCopy, UploadTooLarge } from './limit.js';
import { RESULTS_CONTENT_TYPE, resultsFormat, resultsStream } from './results.js';
import { uploadContacts, type UploadResult } from './upload.js';
import { wantsPage, type AuthMode } from './auth.js';
import { PAGE_CSP, type StaticFile } from './static.js';
import { settingsRoutes } from './settings.js';

export interface CampaignRouteOptions {
  uploadLimitBytes: number;
  resultsDir: string;
  /** Loads the uploaded contacts. */
  dialer: Dialer;
  /** The campaign page's shell, sent to a browser opening /campaigns/:name. */
  page?: StaticFile;
}

type Named = FastifyRequest<{ Params: { name: string } }>;

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain'];
const CSV_TYPES = ['text/csv', 'application/csv', 'text/plain', 'application/octet-stream'];

export async function campaignRoutes(app: FastifyInstance, rt: Runtime, o: CampaignRouteOptions): Promise<void> {
  const status = (id: string) => campaignStatus(rt.store, rt.queues, id);

  await app.register(async (scope) => {
    scope.addContentTypeParser(YAML_TYPES, { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));

    /** Creates a campaign (or replaces the config of one that has no contacts yet); the list follows on /contacts. */
    scope.post('/campaigns', async (req, reply) => {
      const c = parseCampaignBody(req.body, o.resultsDir);
      const existing = await rt.store.getCampaign(c.name);
      if (existing) {
        const rows = existing.total ?? (await rt.store.rowCount(c.name));
        if (existing.state === 'canceled' || rows > 0) {
          throw new HttpError(409, `campaign "${c.name}" already exists with ${rows} contacts (state ${existing.state}); choose another name`);
        }
      }
      await rt.store.saveCampaign(c, existing?.state ?? 'loading');
      return reply.code(existing ? 200 : 201).send({ ...(await status(c.name)), contacts_upload: `/campaigns/${c.name}/contacts` });
    });
  });

  app.get('/campaigns', async () => {
    const ids = await rt.store.listCampaigns();
    return { campaigns: await Promise.all(ids.map(status)) };
  });

  const pageAuth = { config: { auth: 'page' as AuthMode } };
  app.get('/campaigns/:name', pageAuth, async (req: Named, reply) => {
    if (o.page && wantsPage(req)) {
      return reply.type(o.page.type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff')
        .header('content-security-policy', PAGE_CSP).header('referrer-policy', 'no-referrer').send(o.page.body);
    }
    return status(req.params.name);
  });

  app.get('/campaigns/:name/results', async (req: Named, reply) => {
    const id = req.params.name;
    if (!(await rt.store.getCampaign(id))) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}"`);
    const format = resultsFormat(req);
    return reply
      .type(RESULTS_CONTENT_TYPE[format])
      .header('content-disposition', `attachment; filename="${id}-results.${format}"`)
      .header('cache-control', 'no-store')
      .send(resultsStream(rt.store, id, format));
  });

  settingsRoutes(app, rt);
  app.post('/campaigns/:name/pause', async (req: Named) => ({ campaign: req.params.name, state: await pauseCampaign(rt, req.params.name) }));
  app.post('/campaigns/:name/resume', async (req: Named) => ({ campaign: req.params.name, state: await resumeCampaign(rt, req.params.name) }));
  app.post('/campaigns/:name/cancel', async (req: Named) => ({ campaign: req.params.name, ...(await o.dialer.cancel(req.params.name)) }));

  await app.register(async (scope) => {
    // The body reaches the handler as a stream: a CSV of any size is read row by row, never held whole.
    scope.addContentTypeParser(CSV_TYPES, (_req, payload, done) => done(null, payload));
    await scope.register(multipart, { throwFileSizeLimit: false, limits: { files: 1, fileSize: o.uploadLimitBytes + 1, fields: 10, fieldSize: 1024 * 1024 } });

    /**
     * The contact list, as a raw CSV body (text/csv) or as the `file` field of
     * a multipart form. `?partial=keep` keeps the rows before a broken line.
     */
    scope.post('/campaigns/:name/contacts', async (req: Named, reply) => {
      const id = req.params.name;
      const keepPartial = (req.query as Record<string, unknown>).partial === 'keep';
      const append = (req.query as Record<string, unknown>).append === 'true';
      let result: UploadResult | undefined;
      let failure: unknown;
      const run = async (input: Readable, source: string) => {
        const body = limitedCopy(input, o.uploadLimitBytes);
        try {
          result = await uploadContacts(o.dialer, id, body, { source, keepPartial, append });
        } catch (e) {
          failure = e;
          body.destroy();
        }
      };
      if (req.isMultipart()) {
        for await (const part of req.parts()) {
          if (part.type === 'file' && result === undefined && failure === undefined) await run(part.file, fileName(part.filename));
          else if (part.type === 'file') part.file.resume();
          // Past the limit the rest is not read: busboy would wait for it forever.
          if (failure instanceof UploadTooLarge) break;
        }
        if (result === undefined && failure === undefined) throw new HttpError(400, 'the form has no file field with the contact list');
      } else {
        if (!req.body) throw new HttpError(400, 'send the contact list as a text/csv body or as a multipart form with a file field');
        await run(req.body as Readable, fileName((req.query as Record<string, unknown>).filename) || 'contacts.csv');
      }
      if (failure instanceof UploadTooLarge) reply.header('connection', 'close');
      // Rethrows what the upload threw, unchanged (the error handler maps it to a status).
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      if (failure !== undefined) throw failure;
      return { ...result!, status: await status(id) };
    });
  });
}

/** Only a base name, printable and short, ever reaches a message. */
function fileName(raw: unknown): string {
  if (typeof raw !== 'string') return '';
  return path.basename(raw.replace(/\\/g, '/')).replace(/[^\w.\- ]/g, '_').slice(0, 100);
}
