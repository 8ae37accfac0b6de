// utimes() arguments (Date, seconds, ISO strings) to setattr time fields.
import { SET_ATIME, SET_MTIME, type Attr } from '../meta/types.js';

export type TimeLike = Date | number | string;

function toStamp(t: TimeLike): { sec: number; nsec: number } {
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? (/^\d+(\.\d+)?$/.test(t) ? Number(t) * 1000 : Date.parse(t)) : t * 1000;
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: Math.round((ms - sec * 1000) * 1e6) };
}

export function toTimeAttrs(atime: TimeLike, mtime: TimeLike): { set: number; attr: Partial<Attr> } {
  const a = toStamp(atime);
  const m = toStamp(mtime);
  return { set: SET_ATIME | SET_MTIME, attr: { atime: a.sec, atimensec: a.nsec, mtime: m.sec, mtimensec: m.nsec } };
}
