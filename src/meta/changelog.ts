// The changelog is a redo log of Tx writes: BaseMeta runs each operation on a Tx that records its
// logged writes as engine-neutral mutations, and a mirror replays them on any engine's Tx.
import { fsErr } from '../errors.js';
import type { Assigned, RecordedMutation } from './assigned.js';
import type { Tx } from './tx.js';
import { isUsageCounter } from './quota-names.js';
import type { Mutation } from './types.js';

/** Counters a mirror must see (usage: the volume's and each quota's); allocation counters and the version itself are not replayed. */
const REPLAYED_COUNTERS = { has: isUsageCounter };

type Recorder = (args: any[], result: any) => RecordedMutation | RecordedMutation[] | undefined;

const RECORDERS: Partial<Record<keyof Tx, Recorder>> = {
  setAttr: ([ino, attr]) => ({ t: 'attr', ino, attr: { ...attr } }),
  setAttrs: ([rows]) => (rows as Array<[number, object]>).map(([ino, attr]) => ({ t: 'attr', ino, attr: { ...attr } }) as RecordedMutation),
  delAttr: ([ino]) => ({ t: 'rmattr', ino }),
  setEntry: ([parent, name, ino, type]) => ({ t: 'entry', parent, name, ino, type }),
  addEntry: ([parent, name, ino, type], added: boolean) => (added ? { t: 'entry', parent, name, ino, type } : undefined),
  delEntry: ([parent, name]) => ({ t: 'rmentry', parent, name }),
  setSymlink: ([ino, target]) => ({ t: 'symlink', ino, target }),
  delSymlink: ([ino]) => ({ t: 'rmsymlink', ino }),
  setXattr: ([ino, name, value]) => ({ t: 'xattr', ino, name, value: (value as Buffer).toString('base64') }),
  delXattr: ([ino, name]) => ({ t: 'rmxattr', ino, name }),
  addParent: ([ino, parent, delta]) => ({ t: 'parent', ino, parent, delta }),
  appendSlice: ([ino, indx, slice]) => ({ t: 'slice', ino, indx, slice: { ...slice } }),
  setChunk: ([ino, indx, slices]) =>
    slices.length ? { t: 'chunk', ino, indx, slices: slices.map((s: object) => ({ ...s })) } : { t: 'rmchunk', ino, indx },
  // Not a namespace change: logged so an own-store mirror learns which blocks the source freed.
  addDelSlice: ([id, size]) => ({ t: 'free', id, size }),
  // The new value is the engine's token: the record gets the number once the commit assigned it.
  incrCounter: ([name], value: Assigned) => (REPLAYED_COUNTERS.has(name) ? { t: 'counter', name, value } : undefined),
  setCounter: ([name, value]) => (REPLAYED_COUNTERS.has(name) ? { t: 'counter', name, value } : undefined),
  incrCounters: ([deltas], values: Assigned[]) =>
    (deltas as Array<[string, number]>).flatMap(([name], i) => (REPLAYED_COUNTERS.has(name) ? [{ t: 'counter' as const, name, value: values[i]! }] : [])),
};

/** Wraps tx so every logged write also appends its mutation to `out`. */
export function recordingTx(tx: Tx, out: RecordedMutation[]): Tx {
  return new Proxy(tx, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      const rec = RECORDERS[prop as keyof Tx];
      if (!rec || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        const result = await value.apply(target, args);
        const m = rec(args, result);
        if (Array.isArray(m)) out.push(...m);
        else if (m) out.push(m);
        return result;
      };
    },
  });
}

/** Applies one mutation to a transaction of any engine. */
export async function applyMutation(tx: Tx, m: Mutation): Promise<void> {
  switch (m.t) {
    case 'attr':
      return tx.setAttr(m.ino, m.attr);
    case 'rmattr':
      return tx.delAttr(m.ino);
    case 'entry':
      return tx.setEntry(m.parent, m.name, m.ino, m.type);
    case 'rmentry':
      return tx.delEntry(m.parent, m.name);
    case 'symlink':
      return tx.setSymlink(m.ino, m.target);
    case 'rmsymlink':
      return tx.delSymlink(m.ino);
    case 'xattr':
      return tx.setXattr(m.ino, m.name, Buffer.from(m.value, 'base64'));
    case 'rmxattr':
      await tx.delXattr(m.ino, m.name);
      return;
    case 'parent':
      return tx.addParent(m.ino, m.parent, m.delta);
    case 'slice':
      await tx.appendSlice(m.ino, m.indx, m.slice);
      return;
    case 'chunk':
      return tx.setChunk(m.ino, m.indx, m.slices);
    case 'rmchunk':
      return tx.setChunk(m.ino, m.indx, []);
    case 'counter':
      return tx.setCounter(m.name, m.value);
    case 'setting':
      return tx.setSetting(m.format);
    case 'free':
      return; // the mirror's data copier reads it from the mirror's changelog; its namespace is unchanged

    default:
      throw fsErr('EINVAL', `unknown changelog mutation ${(m as { t: string }).t}`);
  }
}
