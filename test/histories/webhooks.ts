/** Webhook events as a confused or replaying sender would post them: duplicated, out of order, stale. */
import { shuffle } from './util.js';
import type { Rng } from '../../src/simulator/prng.js';

export interface WebhookCall {
  id: string;
  phone: string;
  outcome: string;
}

const STATUSES = ['queued', 'ringing', 'in-progress', 'completed', 'no-answer', 'busy', 'voicemail', 'failed'];

/**
 * For each call: its real lifecycle, plus a wrong final status and a few
 * repeats, shuffled; in the payload shapes `eventFields` reads. A webhook is a
 * hint only, so none of this may change an outcome in the results.
 */
export function webhookEvents(calls: WebhookCall[], rng: Rng): unknown[] {
  const events: unknown[] = [];
  for (const c of calls) {
    const wrong = STATUSES[3 + Math.floor(rng() * 5)]!;
    const statuses = ['queued', 'ringing', 'in-progress', c.outcome, wrong];
    for (let i = 0; i < 3; i++) statuses.push(statuses[Math.floor(rng() * statuses.length)]!);
    for (const status of statuses) {
      const shape = Math.floor(rng() * 3);
      events.push(
        shape === 0 ? { call_id: c.id, status, phoneNumber: c.phone }
          : shape === 1 ? { type: 'call.updated', data: { id: c.id, status } }
            : { call: { callId: c.id, call_status: status, customer: { number: c.phone } } },
      );
    }
  }
  return shuffle(events, rng);
}

/** Posts the events to `serve`, a few at a time; a refused connection (serve killed) is ignored. */
export async function postWebhooks(port: number, token: string, events: unknown[]): Promise<{ sent: number; failed: number }> {
  let sent = 0;
  let failed = 0;
  for (let i = 0; i < events.length; i += 4) {
    await Promise.all(events.slice(i, i + 4).map(async (body) => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/webhooks/callease`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(3000),
        });
        await res.text();
        if (res.status === 202) sent++;
        else failed++;
      } catch {
        failed++;
      }
    }));
  }
  return { sent, failed };
}
