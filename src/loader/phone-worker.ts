import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { CountryCode } from 'libphonenumber-js/max';
import { CELL_SEP, normalizeCells } from '../phone/multi.js';

/**
 * Worker thread entry for phone-pool.ts. Answers on the port it was given, one
 * string per row (its cells joined by CELL_SEP): "+61412345678 AU" when valid,
 * "+61412345678 AU +61298765432,+61415345003" with alternate numbers,
 * "!reason" or "!cell!reason" when not (strings clone far cheaper than objects).
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
    const r = normalizeCells(p.split(CELL_SEP), req.country);
    return r.ok ? `${r.e164} ${r.country ?? ''}${r.alts ? ` ${r.alts.join(',')}` : ''}` : `!${r.cell ? `${r.cell}!` : ''}${r.reason}`;
  });
  port.postMessage({ id: req.id, results } satisfies PhoneReply);
});
parentPort?.postMessage('ready');
