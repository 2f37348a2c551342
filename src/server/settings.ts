import type { FastifyInstance, FastifyRequest } from 'fastify';
import { changeSettings } from '../campaign/settings.js';
import { flattenPatch, settingsOf, SettingsError } from '../config/settings-patch.js';
import { DialerError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { HttpError } from './errors.js';

type Named = FastifyRequest<{ Params: { name: string } }>;

/** A refused change: 400 with every problem, each naming its key. */
function refused(e: SettingsError): HttpError {
  return new HttpError(400, e.message, { code: e.code, errors: e.issues });
}

/**
 * The settings of a campaign while it runs (behind the API token, as every
 * write route). `PATCH /campaigns/:name` takes JSON: a partial campaign
 * (`{"rate": {"calls": 5}}`, mappings merged key by key, lists and scalars
 * replaced, `null` back to the default) or dotted keys (`{"rate.calls": 5}`),
 * either under `"set"` or not; the merged settings pass the campaign schema
 * or nothing changes.
 */
export function settingsRoutes(app: FastifyInstance, rt: Runtime): void {
  app.get('/campaigns/:name/settings', async (req: Named) => {
    const info = await rt.store.getCampaign(req.params.name);
    if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${req.params.name}"`);
    return { campaign: req.params.name, version: info.version, state: info.state, settings: settingsOf(info.campaign) };
  });

  app.patch('/campaigns/:name', async (req: Named) => {
    try {
      return await changeSettings(rt, req.params.name, flattenPatch(req.body), 'http');
    } catch (e) {
      if (e instanceof SettingsError) throw refused(e);
      throw e;
    }
  });
}
