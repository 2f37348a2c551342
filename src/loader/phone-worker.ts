import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { CountryCode } from 'libphonenumber-js/max';
import { normalizePhone } from '../phone/normalize.js';

/**
 * Worker thread entry for phone-pool.ts. Answers on the port it was given, one
 * string per number: "+61412345678 AU" when valid, "!reason" when not (strings
 * clone far cheaper than objects).
 */
export interface PhoneRequest {
  id: number;
  phones: string[];
  country?: CountryCode;
}
export interface PhoneReply {
  id: number;
  results: string[];
}

const port = (workerData as { port: MessagePort }).port;
port.on('message', (req: PhoneRequest) => {
  const results = req.phones.map((p) => {
    const r = normalizePhone(p, req.country);
    return r.ok ? `${r.e164} ${r.country ?? ''}` : `!${r.reason}`;
  });
  port.postMessage({ id: req.id, results } satisfies PhoneReply);
});
parentPort?.postMessage('ready');
