import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { writeResults } from '../src/results/export.js';
import type { Runtime } from '../src/runtime.js';
import type { Simulator } from '../src/simulator/index.js';
import { useSimulators } from './helpers/sim-http.js';
import { campaignIn, cleanupPrefix, postsByNumber, startDialing, testPrefix, withRuntime } from './helpers/dialer.js';

const prefix = testPrefix('altnum');
afterAll(() => cleanupPrefix(prefix));
const simulator = useSimulators();

/** Loads and dials a campaign to the end; returns its results file as records. */
async function dialToEnd(rt: Runtime, name: string, yaml: Record<string, unknown>, csv: string): Promise<Record<string, string>[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'altnum-'));
  const c = await campaignIn(dir, {
    name, assistant_id: 'A1', default_country: 'AU', rate: { calls: 100, per_seconds: 1 },
    poll: { interval_seconds: 0.1, timeout_minutes: 1 }, results: path.join(dir, 'results.csv'), ...yaml,
  }, csv);
  const d = await startDialing(rt, c);
  try {
    await d.done(40_000);
  } finally {
    await d.stop();
  }
  await writeResults(rt.store, c.name, c.resultsPath);
  return parse<Record<string, string>>(await readFile(c.resultsPath, 'utf8'), { columns: true });
}

function postsTo(sim: Simulator, numbers: string[]): number[] {
  const posts = postsByNumber(sim);
  return numbers.map((n) => posts.get(n) ?? 0);
}

describe('alternate numbers from real exports', () => {
  it('Google Contacts: the ":::" cell is dialed, its second number after a no-answer on the first', async () => {
    const sim = await simulator({ callDurationMs: { min: 30, max: 80 }, outcomeFor: { '+61414345003': 'no-answer', '+61415345003': 'completed', '+61414345010': 'voicemail' } });
    const csv = [
      'Name,Given Name,Family Name,E-mail 1 - Type,E-mail 1 - Value,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value',
      'Ann Lee,Ann,Lee,* Home,ann@example.com,Mobile ::: Work,0414 345 003 ::: 0415 345 003,,',
      'Bob Ray,Bob,Ray,,,Mobile,0414 345 010,Home,(02) 9876 5410',
    ].join('\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const rows = await dialToEnd(rt, 'alt-google', { phone_columns: ['Phone 1 - Value', 'Phone 2 - Value'] }, csv);
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatchObject({ row: '1', name: 'Ann Lee', outcome: 'completed', phone: '+61415345003', numbers_tried: "'+61414345003 +61415345003", attempts: '2', upload: '1' });
      expect(postsTo(sim, ['+61414345003', '+61415345003'])).toEqual([1, 1]);
      // A voicemail reached Bob's phone: his second column is tried only after no-answer, busy or failed.
      expect(rows[1]).toMatchObject({ name: 'Bob Ray', outcome: 'voicemail', phone: '+61414345010', numbers_tried: '+61414345010', attempts: '1' });
      expect(postsTo(sim, ['+61414345010', '+61298765410'])).toEqual([1, 0]);
    });
  });

  it('Outlook: Business Phone is tried after a no-answer on Mobile Phone', async () => {
    const sim = await simulator({ callDurationMs: { min: 30, max: 80 }, outcomeFor: { '+61414345020': 'no-answer', '+61298765420': 'completed', '+61414345021': 'completed' } });
    const csv = [
      'First Name,Middle Name,Last Name,Company,Business Phone,Business Phone 2,Home Phone,Mobile Phone,E-mail Address',
      'Cat,,Ng,Acme,(02) 9876 5420,,,0414 345 020,cat@example.com',
      'Dan,,Oh,Acme,(02) 9876 5421,,,0414 345 021,dan@example.com',
    ].join('\r\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const rows = await dialToEnd(rt, 'alt-outlook', { phone_columns: ['Mobile Phone', 'Business Phone'] }, csv);
      expect(rows[0]).toMatchObject({ name: 'Cat', outcome: 'completed', phone: '+61298765420', numbers_tried: "'+61414345020 +61298765420" });
      expect(rows[1]).toMatchObject({ name: 'Dan', outcome: 'completed', phone: '+61414345021', numbers_tried: '+61414345021' });
      expect(postsTo(sim, ['+61414345020', '+61298765420', '+61414345021', '+61298765421'])).toEqual([1, 1, 1, 0]);
    });
  });

  it('HubSpot: Phone Number after busy on Mobile Phone Number; every number no-answer ends no-answer with all of them tried', async () => {
    const sim = await simulator({
      callDurationMs: { min: 30, max: 80 },
      outcomeFor: { '+61414345030': 'busy', '+61298765430': 'completed', '+61414345031': 'no-answer', '+61298765431': 'no-answer' },
    });
    const csv = [
      'Record ID,First Name,Last Name,Email,Phone Number,Mobile Phone Number,Lifecycle Stage',
      '1001,Eve,Ho,eve@example.com,+61 2 9876 5430,+61 414 345 030,lead',
      '1002,Fay,Wu,fay@example.com,+61 2 9876 5431,+61 414 345 031,lead',
    ].join('\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const rows = await dialToEnd(rt, 'alt-hubspot', { phone_columns: ['Mobile Phone Number', 'Phone Number'] }, csv);
      expect(rows[0]).toMatchObject({ name: 'Eve', outcome: 'completed', phone: '+61298765430', numbers_tried: "'+61414345030 +61298765430" });
      expect(rows[1]).toMatchObject({ name: 'Fay', outcome: 'no-answer', phone: '+61298765431', numbers_tried: "'+61414345031 +61298765431" });
      expect(postsTo(sim, ['+61414345030', '+61298765430', '+61414345031', '+61298765431'])).toEqual([1, 1, 1, 1]);
    });
  });

  it('Salesforce: Phone after the API rejects MobilePhone as invalid; no redial of a number already tried', async () => {
    const sim = await simulator({ callDurationMs: { min: 30, max: 80 }, invalidNumbers: ['+61414345040'], outcomeFor: { '+61298765440': 'completed' } });
    const csv = [
      'Id,FirstName,LastName,Phone,MobilePhone,Email,AccountId',
      '0035g00000AbCdE,Gus,Li,(02) 9876 5440,0414 345 040,gus@example.com,0015g000001',
    ].join('\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const rows = await dialToEnd(rt, 'alt-salesforce', { phone_columns: ['MobilePhone', 'Phone'], redial: { outcomes: ['no-answer'], max: 1, after_minutes: 0.001 } }, csv);
      expect(rows[0]).toMatchObject({ name: 'Gus', outcome: 'completed', phone: '+61298765440', numbers_tried: "'+61414345040 +61298765440", attempts: '2' });
      expect(postsTo(sim, ['+61414345040', '+61298765440'])).toEqual([1, 1]);
    });
  });

  it('Excel-saved CSV with ";": "/" inside a cell, and an alternate that is another row\'s number is left to that row', async () => {
    const sim = await simulator({
      callDurationMs: { min: 30, max: 80 },
      outcomeFor: { '+61414345050': 'no-answer', '+61415345050': 'failed', '+61298765450': 'completed', '+61414345051': 'no-answer', '+61414345052': 'completed' },
    });
    const csv = [
      '\uFEFFName;Mobile;Phone;City',
      'Hal;0414 345 050 / 0415 345 050;02 9876 5450;Sydney',
      // Ivy's second number is Jo's: Jo's own row calls it, Ivy's does not.
      'Ivy;0414 345 051;0414 345 052;Perth',
      'Jo;0414 345 052;;Perth',
    ].join('\r\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const rows = await dialToEnd(rt, 'alt-excel', { phone_columns: ['Mobile', 'Phone'] }, csv);
      expect(rows[0]).toMatchObject({ name: 'Hal', outcome: 'completed', phone: '+61298765450', numbers_tried: "'+61414345050 +61415345050 +61298765450" });
      expect(rows[1]).toMatchObject({ name: 'Ivy', outcome: 'no-answer', phone: '+61414345051', numbers_tried: '+61414345051' });
      expect(rows[2]).toMatchObject({ name: 'Jo', outcome: 'completed', phone: '+61414345052' });
      expect(postsTo(sim, ['+61414345050', '+61415345050', '+61298765450', '+61414345051', '+61414345052'])).toEqual([1, 1, 1, 1, 1]);
    });
  });

  it('each number passes the gate: a suppressed alternate is skipped, the frequency cap counts every number dialed', async () => {
    const sim = await simulator({ callDurationMs: { min: 30, max: 80 }, outcomeFor: { '+61414345060': 'no-answer', '+61298765460': 'completed' } });
    const csv = ['name,mobile,work,home', 'Kim,0414 345 060,0415 345 060,02 9876 5460'].join('\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      await rt.store.suppression.add(['+61415345060']);
      const rows = await dialToEnd(rt, 'alt-gate', { phone_columns: ['mobile', 'work', 'home'] }, csv);
      expect(rows[0]).toMatchObject({ name: 'Kim', outcome: 'completed', phone: '+61298765460', numbers_tried: "'+61414345060 +61298765460", attempts: '2' });
      expect(postsTo(sim, ['+61414345060', '+61415345060', '+61298765460'])).toEqual([1, 0, 1]);
      const since = Date.now() - 3_600_000;
      expect(await rt.store.frequency.countSince('+61414345060', since)).toBe(1);
      expect(await rt.store.frequency.countSince('+61298765460', since)).toBe(1);
      expect(await rt.store.frequency.countSince('+61415345060', since)).toBe(0);
    });
  });
});
