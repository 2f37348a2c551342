/** The pure parts of outbound events: which campaign moves emit what, the retry window, settings and signatures. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CAMPAIGN_STATES, type CampaignState } from '../src/campaign/lifecycle.js';
import { parseCampaign } from '../src/config/campaign.js';
import { eventBackoffMs, readEventsEnv, resolveEvents, retryWindowMs } from '../src/config/events.js';
import { signature, verifySignature } from '../src/events/sign.js';
import { campaignEvents } from '../src/events/types.js';

describe('campaign events per move', () => {
  const table: [CampaignState, CampaignState, string[]][] = [
    ['loading', 'running', ['campaign.started']],
    ['loading', 'paused', ['campaign.started', 'campaign.paused']],
    ['loading', 'done', ['campaign.started', 'campaign.finished']],
    ['loading', 'canceling', ['campaign.canceled']],
    ['running', 'paused', ['campaign.paused']],
    ['paused', 'running', ['campaign.resumed']],
    ['running', 'canceling', ['campaign.canceled']],
    ['paused', 'canceled', ['campaign.canceled']],
    ['canceling', 'canceled', []],
    ['running', 'done', ['campaign.finished']],
    ['paused', 'done', ['campaign.finished']],
    ['done', 'running', []],
  ];
  it.each(table)('%s → %s emits %j', (from, to, want) => expect(campaignEvents(from, to)).toEqual(want));
  it('staying in a state emits nothing', () => {
    for (const s of CAMPAIGN_STATES) expect(campaignEvents(s, s)).toEqual([]);
  });
});

describe('retry window', () => {
  it('the defaults keep trying for more than an hour (about 3.1 h)', () => {
    const d = readEventsEnv({});
    expect(d).toMatchObject({ attempts: 20, backoffMs: 5000, maxBackoffMs: 900_000 });
    expect(retryWindowMs(d)).toBeGreaterThan(3_600_000);
    expect(Math.round(retryWindowMs(d) / 60_000)).toBe(186);
  });
  it('doubles from the first wait and is capped', () => {
    const s = { backoffMs: 100, maxBackoffMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => eventBackoffMs(s, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(retryWindowMs({ ...s, attempts: 4 })).toBe(700);
    expect(retryWindowMs({ ...s, attempts: 1 })).toBe(0);
  });
  it('settings come from the environment; bad values are named', () => {
    expect(readEventsEnv({ DIALER_EVENTS_ATTEMPTS: '7', DIALER_EVENTS_BACKOFF_MS: '20' })).toMatchObject({ attempts: 7, backoffMs: 20 });
    expect(() => readEventsEnv({ DIALER_EVENTS_ATTEMPTS: 'many' })).toThrow(/DIALER_EVENTS_ATTEMPTS must be a number/);
  });
});

describe('events settings of a campaign', () => {
  const parse = (extra: string) => parseCampaign(`name: ev\nassistant_id: CE_1\ncontacts: c.csv\n${extra}`, '/x/ev.yaml', '/x');
  it('no url anywhere: no events', () => expect(resolveEvents(parse(''), {})).toBeUndefined());
  it('DIALER_EVENTS_URL without DIALER_EVENTS_SECRET is refused, naming the variable', () => {
    expect(() => resolveEvents(parse(''), { url: 'https://crm.example/hooks' })).toThrow(/DIALER_EVENTS_SECRET is not set.*DIALER_EVENTS_URL/);
  });
  it('events.url without the secret is refused too', () => {
    expect(() => resolveEvents(parse('events: { url: "https://crm.example/h" }'), {})).toThrow(/DIALER_EVENTS_SECRET.*events\.url/);
  });
  it('the campaign url wins; types default to all, fields to none', () => {
    expect(resolveEvents(parse('events: { url: "https://crm.example/h" }'), { url: 'https://other.example', secret: 's' }))
      .toEqual({ url: 'https://crm.example/h', types: expect.arrayContaining(['contact.finished', 'campaign.started']) as unknown, fields: [] });
    expect(resolveEvents(parse('events: { types: [contact.finished], fields: [name] }'), { url: 'https://all.example/h', secret: 's' }))
      .toEqual({ url: 'https://all.example/h', types: ['contact.finished'], fields: ['name'] });
  });
  it('events without a url anywhere, plain http off loopback, an unknown type: errors name the file and key', () => {
    expect(() => resolveEvents(parse('events: { types: [contact.finished] }'), { secret: 's' })).toThrow('/x/ev.yaml: events: no url');
    expect(() => resolveEvents(parse('events: { url: "http://crm.example/h" }'), { secret: 's' })).toThrow(/events\.url: events go over https/);
    expect(resolveEvents(parse('events: { url: "http://127.0.0.1:9/h" }'), { secret: 's' })?.url).toBe('http://127.0.0.1:9/h');
    expect(() => parse('events: { types: [contact.started] }')).toThrow(/ev\.yaml: events\.types\.0/);
    expect(() => parse('events: { url: "https://a.example", secret: x }')).toThrow(/events: unknown key "secret"/);
  });
});

describe('signature', () => {
  it('is Stripe-like: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const body = '{"id":"evt_x_1_finished"}';
    const h = signature('sekret', body, 1_700_000_000);
    expect(h).toBe(`t=1700000000,v1=${createHmac('sha256', 'sekret').update(`1700000000.${body}`).digest('hex')}`);
    expect(verifySignature('sekret', body, h, { now: 1_700_000_010 })).toBe(true);
  });
  it('fails for another secret, another body, a stale timestamp or a mangled header', () => {
    const body = '{"a":1}';
    const h = signature('sekret', body, 1_700_000_000);
    expect(verifySignature('other', body, h, { now: 1_700_000_000 })).toBe(false);
    expect(verifySignature('sekret', '{"a":2}', h, { now: 1_700_000_000 })).toBe(false);
    expect(verifySignature('sekret', body, h, { now: 1_700_000_000 + 301 })).toBe(false);
    expect(verifySignature('sekret', body, h.replace('v1=', 'v0='), { now: 1_700_000_000 })).toBe(false);
    expect(verifySignature('sekret', body, undefined)).toBe(false);
  });
});
