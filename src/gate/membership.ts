import { numberHash, requireHashKey } from '../privacy/hash.js';
import type { Store } from '../store/store.js';

type Verdict = { suppressed: boolean; erased: boolean };

/**
 * The load screen's view of the global suppression set and the erased set:
 * membership asked of Redis, never a copy (a national register holds
 * millions of numbers). `prefetch` checks a whole chunk of rows in one round
 * trip (SMISMEMBER on each set); a row outside the chunk is checked on its
 * own. Only the current chunk's answers are held, so memory stays flat, and
 * they are at most one chunk old: a number added meanwhile is caught by the
 * dial gate, which asks Redis again immediately before each POST.
 *
 * Without DIALER_HASH_KEY no erased number can be recognised: when any were
 * erased, the first check throws (the load is refused rather than calling
 * people who asked to be forgotten).
 */
export class ScreenMembership {
  private batch = new Map<string, Verdict>();
  private keyCheck: Promise<boolean> | undefined;

  constructor(private readonly store: Store, private readonly key: string | undefined) {}

  /** Whether erasures must be checked (a key is set); throws when numbers were erased and no key is set. */
  private async erasedChecked(): Promise<boolean> {
    if (this.key) return true;
    this.keyCheck ??= this.store.privacy.erasedCount().then((n) => {
      if (n > 0) requireHashKey(undefined, `${n} number(s) were erased on request; recognising them`);
      return false;
    });
    return this.keyCheck;
  }

  private async ask(phones: string[]): Promise<Map<string, Verdict>> {
    const distinct = [...new Set(phones.filter((p) => p !== ''))];
    const out = new Map<string, Verdict>();
    if (distinct.length === 0) return out;
    const withErased = await this.erasedChecked();
    const key = this.key;
    const [sup, era] = await Promise.all([
      this.store.suppression.hasMany(distinct),
      withErased && key ? this.store.privacy.erasedMany(distinct.map((p) => numberHash(p, key))) : Promise.resolve([] as boolean[]),
    ]);
    distinct.forEach((p, i) => out.set(p, { suppressed: sup[i]!, erased: era[i] ?? false }));
    return out;
  }

  /** Checks these numbers at once; the answers replace the previous chunk's. */
  async prefetch(phones: string[]): Promise<void> {
    this.batch = await this.ask(phones);
  }

  private async verdict(phone: string): Promise<Verdict> {
    if (phone === '') return { suppressed: false, erased: false };
    const hit = this.batch.get(phone);
    if (hit) return hit;
    return (await this.ask([phone])).get(phone)!;
  }

  async isSuppressed(phone: string): Promise<boolean> {
    return (await this.verdict(phone)).suppressed;
  }

  async isErased(phone: string): Promise<boolean> {
    if (phone === '') return this.erasedChecked().then(() => false);
    return (await this.verdict(phone)).erased;
  }
}
