// Values an engine assigns at commit. A counter's new value is known inside the transaction on SQL, but
// on Redis only once the commit script has run (increments are blind, so concurrent writers never
// conflict on the version counter). BaseMeta therefore holds a token, never a number it made up, and
// reads the value after the transaction; the engine resolves every token it handed out.
import { fsErr } from '../errors.js';
import type { Mutation } from './types.js';

export class Assigned {
  private v?: number;

  /** A value known already (SQL engines, or a version taken from a record being replayed). */
  static of(value: number): Assigned {
    const a = new Assigned();
    a.resolve(value);
    return a;
  }

  get known(): boolean {
    return this.v !== undefined;
  }

  /** The value; only certain after the transaction committed. */
  get value(): number {
    if (this.v === undefined) throw fsErr('EIO', 'a value assigned at commit was read before the commit');
    return this.v;
  }

  /** Called by the engine that handed the token out. */
  resolve(value: number): void {
    this.v = value;
  }

  /** Serialises as the number (throws while unknown: an engine that serialises earlier must fill it in itself). */
  toJSON(): number {
    return this.value;
  }
}

/** A changelog mutation as a transaction records it: a counter's value may be assigned at commit. */
export type RecordedMutation = Mutation | { t: 'counter'; name: string; value: Assigned };

/** The mutations with every assigned value filled in (after the commit). */
export function resolvedMutations(muts: readonly RecordedMutation[]): Mutation[] {
  return muts.map((m) => (m.t === 'counter' && m.value instanceof Assigned ? { ...m, value: m.value.value } : (m as Mutation)));
}
