/**
 * The first row of each E.164 number seen, in typed arrays: a number's 15
 * digits fit a double exactly, so an entry costs 12 bytes (24 with the open
 * addressing slack) instead of the ~80 of a string in a Map. The preflight
 * finds duplicates with it without writing the ledger the loader uses.
 */
export class NumberRows {
  private keys = new Float64Array(1 << 16);
  private rows = new Uint32Array(1 << 16);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The row that had `e164` first, or undefined after recording `row` as that row. */
  claim(e164: string, row: number): number | undefined {
    const key = Number(e164.slice(1));
    // Not digits (never from the loader, which writes E.164): nothing to compare.
    if (!Number.isSafeInteger(key) || key <= 0) return undefined;
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const at = this.slot(key);
    if (this.keys[at] === key) return this.rows[at];
    this.keys[at] = key;
    this.rows[at] = row;
    this.count++;
    return undefined;
  }

  /** Linear probing from a multiplicative hash; 0 marks a free slot (no number is 0). */
  private slot(key: number): number {
    const mask = this.keys.length - 1;
    let i = (Math.imul((key % 0x7fffffff) | 0, 0x9e3779b1) ^ Math.floor(key / 0x7fffffff)) & mask;
    while (this.keys[i] !== 0 && this.keys[i] !== key) i = (i + 1) & mask;
    return i;
  }

  private grow(): void {
    const keys = this.keys;
    const rows = this.rows;
    this.keys = new Float64Array(keys.length * 2);
    this.rows = new Uint32Array(keys.length * 2);
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === 0) continue;
      const at = this.slot(keys[i]!);
      this.keys[at] = keys[i]!;
      this.rows[at] = rows[i]!;
    }
  }
}
