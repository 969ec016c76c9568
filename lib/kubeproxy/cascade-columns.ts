/**
 * The probability cascades of one nat table's service chains (KUBE-SVC/KUBE-SVL), kept as shared
 * columns: at 10k services they are 100k rules, and arrays per chain were ~1 KB each of objects that
 * outlive the parse. A chain's cascade is a range [start, start + count) of these columns; rules of
 * a chain come together in a dump, so a chain appends at the end. A chain that appends after another
 * chain has (restore input) moves its range to the end first. Pure.
 */

/** Shared columns: the endpoint row each rule jumps to (-1: another target), its probability, its line. */
export class CascadeColumns {
  #jumps: Int32Array;
  #probs: Float64Array;
  #lines: Int32Array;
  #length = 0;
  /** Names of the targets that are not endpoint rows, by column index. */
  readonly #others = new Map<number, string>();

  /** Room for `capacity` rules before the first growth. */
  constructor(capacity = 16) {
    const n = Math.max(16, capacity);
    this.#jumps = new Int32Array(n);
    this.#probs = new Float64Array(n);
    this.#lines = new Int32Array(n);
  }

  /** Number of rules held (including ranges left behind by a moved or flushed chain). */
  get length(): number {
    return this.#length;
  }

  /**
   * Appends a rule to the range [start, start + count): at the end when the range is last, else the
   * range is first moved to the end. Returns the range's start (moved or not).
   */
  append(start: number, count: number, row: number, prob: number, line: number, other: string | undefined): number {
    let at = start;
    if (count === 0) at = this.#length;
    else if (start + count !== this.#length) at = this.#move(start, count);
    const i = at + count;
    if (i === this.#jumps.length) this.#grow();
    this.#jumps[i] = row;
    this.#probs[i] = prob;
    this.#lines[i] = line;
    if (other !== undefined) this.#others.set(i, other);
    this.#length = i + 1;
    return at;
  }

  jump(i: number): number {
    return this.#jumps[i] as number;
  }

  /** `--probability`; -1 for a rule without one. */
  prob(i: number): number {
    return this.#probs[i] as number;
  }

  line(i: number): number {
    return this.#lines[i] as number;
  }

  /** The target's name when it is not an endpoint row. */
  other(i: number): string | undefined {
    return this.#others.get(i);
  }

  // Copies a range to the end; returns its new start.
  #move(start: number, count: number): number {
    while (this.#length + count + 1 > this.#jumps.length) this.#grow();
    const to = this.#length;
    this.#jumps.copyWithin(to, start, start + count);
    this.#probs.copyWithin(to, start, start + count);
    this.#lines.copyWithin(to, start, start + count);
    for (let k = 0; k < count; k++) {
      const name = this.#others.get(start + k);
      if (name !== undefined) this.#others.set(to + k, name);
    }
    this.#length = to + count;
    return to;
  }

  #grow(): void {
    const n = this.#jumps.length * 2;
    const jumps = new Int32Array(n);
    const probs = new Float64Array(n);
    const lines = new Int32Array(n);
    jumps.set(this.#jumps);
    probs.set(this.#probs);
    lines.set(this.#lines);
    this.#jumps = jumps;
    this.#probs = probs;
    this.#lines = lines;
  }
}
