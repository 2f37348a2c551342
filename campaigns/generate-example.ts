/**
 * Writes campaigns/example.csv: 200 fictional contacts, deterministic (seeded).
 *   npx tsx campaigns/generate-example.ts
 * Numbers are from ranges set aside for fiction: AU mobiles 0491 570 xxx–0491 579 xxx
 * (ACMA), AU landlines (0x) 5550 xxxx / 7010 xxxx, US (NPA) 555-0100..0199.
 * On purpose: 6 invalid numbers and 5 repeats of earlier numbers in another format.
 */
import { writeFileSync } from 'node:fs';

// mulberry32: tiny seeded PRNG, so the file only changes when this script does.
let seed = 20_260_401;
const rand = (n: number) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
};
const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;

const FIRST = ['Olivia', 'Liam', 'Charlotte', 'Noah', 'Amelia', 'Jack', 'Isla', 'William', 'Mia', 'Oliver', 'Ava', 'Henry', 'Grace', 'Leo', 'Chloe', 'Lucas', 'Zoe', 'Thomas', 'Ruby', 'James', 'Sophie', 'Ethan', 'Harper', 'Mason', 'Ella'];
const LAST = ['Nguyen', 'Smith', 'Chen', 'Williams', 'Brown', 'Patel', 'Jones', 'Garcia', "O'Brien", 'Taylor', 'Kowalski', 'Wilson', 'Martin', 'Singh', 'Anderson', 'Rossi', 'Thompson', 'Kim', 'White', 'Lee'];
const AU_CITIES = ['Sydney', 'Melbourne', 'Brisbane', 'Perth', 'Adelaide', 'Hobart', 'Darwin', 'Canberra', 'Newcastle, NSW', 'Geelong'];
const US_CITIES = ['San Francisco', 'New York', 'Chicago', 'Austin', 'Seattle', 'Boston', 'Denver', 'Portland', 'Miami', 'Los Angeles'];
const US_AREAS = ['415', '212', '312', '512', '206', '617', '303', '503', '305', '213'];

const spaced = (d: string, groups: number[], sep: string) => {
  const out: string[] = [];
  let at = 0;
  for (const g of groups) out.push(d.slice(at, (at += g)));
  return out.join(sep);
};
const auMobile = (n: number) => {
  const d = `49157${String(n).padStart(4, '0')}`; // national significant number, 9 digits
  return pick([`0${spaced(d, [3, 3, 3], ' ')}`, `0${d}`, `+61 ${spaced(d, [3, 3, 3], ' ')}`, `+61${d}`, `61${d}`, `0${spaced(d, [3, 3, 3], '-')}`, `+61 (0)${spaced(d, [3, 3, 3], ' ')}`, `0011 61 ${spaced(d, [3, 3, 3], ' ')}`]);
};
const auLandline = (n: number) => {
  const area = pick(['2', '3', '7', '8']);
  const d = `${area}${pick(['5550', '7010'])}${String(n).padStart(4, '0')}`;
  return pick([`(0${area}) ${spaced(d.slice(1), [4, 4], ' ')}`, `0${area} ${spaced(d.slice(1), [4, 4], ' ')}`, `+61 ${area} ${spaced(d.slice(1), [4, 4], ' ')}`, `0${d}`, `0${area}-${spaced(d.slice(1), [4, 4], '-')}`]);
};
// The campaign's default country is AU, so US numbers carry +1 (or the AU exit code 0011 1).
const usNumber = (area: string, n: number) => {
  const line = `01${String(n).padStart(2, '0')}`;
  return pick([`+1 (${area}) 555-${line}`, `+1 ${area}-555-${line}`, `+1.${area}.555.${line}`, `+1${area}555${line}`, `0011 1 ${area} 555 ${line}`]);
};

const person = (city: string) => {
  const first = pick(FIRST);
  const last = pick(LAST);
  return { name: `${first} ${last}`, email: `${first}.${last.replace(/'/g, '')}@example.com`.toLowerCase(), city };
};
const rows: Array<{ name: string; phone: string; cal_email: string; city: string }> = [];
const used = new Set<string>();
const unique = (make: () => string, key: () => string) => {
  for (;;) {
    const k = key();
    if (!used.has(k)) {
      used.add(k);
      return make();
    }
  }
};
for (let i = 0; i < 189; i++) {
  const kind = i % 20 < 7 ? 'mobile' : i % 20 < 12 ? 'landline' : 'us';
  const p = person(kind === 'us' ? pick(US_CITIES) : pick(AU_CITIES));
  let phone: string;
  if (kind === 'mobile') {
    let n = 0;
    phone = unique(() => auMobile(n), () => `m${(n = rand(10_000))}`);
  } else if (kind === 'landline') {
    let n = 0;
    phone = unique(() => auLandline(n), () => `l${(n = rand(10_000))}`);
  } else {
    let area = '';
    let n = 0;
    phone = unique(() => usNumber(area, n), () => `u${(area = pick(US_AREAS))}${(n = rand(100))}`);
  }
  rows.push({ name: p.name, phone, cal_email: p.email, city: p.city });
}
const repeats = [3, 40, 77, 120, 150].map((k) => rows[k]!);
// Deliberately invalid.
const invalid = ['', 'N/A', '0491 570 15', '(02) 5550 123', '6.14916E+10', '+1 (415) 555-010'];
for (const phone of invalid) {
  const p = person(pick(AU_CITIES));
  rows.splice(rand(rows.length), 0, { name: p.name, phone, cal_email: p.email, city: p.city });
}
// Deliberate repeats (of `repeats`): the same person again at the end, number written another way.
const reformat = (phone: string) => {
  const compact = phone.replace('(0)', '').replace(/[^\d+]/g, '');
  if (compact !== phone) return compact;
  if (compact.startsWith('+61')) return `0${compact.slice(3)}`;
  if (compact.startsWith('+1')) return `+1 ${compact.slice(2)}`;
  if (compact.startsWith('0')) return `+61 ${compact.slice(1)}`;
  return `+${compact}`;
};
for (const r of repeats) rows.push({ ...r, phone: reformat(r.phone) });

const cell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const text = ['name,phone,cal_email,city', ...rows.map((r) => [r.name, r.phone, r.cal_email, r.city].map(cell).join(','))].join('\n') + '\n';
writeFileSync(new URL('./example.csv', import.meta.url), text);
console.log(`wrote ${rows.length} rows`);
