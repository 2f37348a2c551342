import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { campaignSchema, formatZodError, type Campaign } from '../config/campaign.js';
import { DialerError } from '../errors.js';

/** Stands in for `contacts`: over HTTP the list arrives later, on POST /campaigns/:name/contacts. */
export const UPLOAD_SOURCE = 'upload';

const SOURCE = 'campaign';

/**
 * A campaign sent to POST /campaigns, as JSON or YAML text (or JSON already
 * parsed by fastify). Validated by the same schema as campaign files, with
 * three differences, because a remote caller must not choose paths on the
 * server: `contacts` may be absent and is ignored (the list is uploaded),
 * `results` and `suppression` are refused, and the results file goes to
 * `<resultsDir>/<name>.csv`.
 */
export function parseCampaignBody(body: unknown, resultsDir: string): Campaign {
  let raw: unknown = body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const text = body.toString();
    if (text.trim() === '') throw new DialerError('CAMPAIGN_INVALID', `${SOURCE}: the request body is empty (send the campaign as JSON or YAML)`);
    try {
      raw = parseYaml(text); // YAML 1.2 reads JSON too
    } catch (e) {
      throw new DialerError('CAMPAIGN_INVALID', `${SOURCE}: not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new DialerError('CAMPAIGN_INVALID', `${SOURCE}: must be a mapping of campaign keys (name, assistant_id, ...)`);
  }
  const obj = { ...(raw as Record<string, unknown>) };
  if (obj.results !== undefined) {
    throw new DialerError('CAMPAIGN_INVALID', `${SOURCE}: results: not accepted over HTTP (the server chooses where results go; download them from GET /campaigns/<name>/results)`);
  }
  if (obj.suppression !== undefined) {
    throw new DialerError('CAMPAIGN_INVALID', `${SOURCE}: suppression: file paths are not accepted over HTTP; load suppression lists with the CLI`);
  }
  obj.contacts = UPLOAD_SOURCE;
  const parsed = campaignSchema.safeParse(obj);
  if (!parsed.success) throw new DialerError('CAMPAIGN_INVALID', formatZodError(SOURCE, parsed.error));
  const c = parsed.data;
  return { ...c, file: '', contactsPath: UPLOAD_SOURCE, resultsPath: path.resolve(resultsDir, `${c.name}.csv`) };
}
