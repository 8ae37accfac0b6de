// A changelog record as the commit script stores it. The member is `VERSION JSON([ts, op, JSON(mutations)])`,
// but counters are incremented blindly, so the version and the counter values a record holds are known
// only inside the script. The transaction sends the payload as text pieces with holes between them; each
// hole names the INCRBY (by its index among the transaction's increments) whose result fills it.
import { Assigned, type RecordedMutation } from '../../assigned.js';

/** Text, hole, text, ..., text: odd positions are indexes of INCRBY results. */
export type Pieces = Array<string | number>;

/** A string as it appears between the quotes of a JSON string (escaping is per character, so pieces escape alone). */
const inString = (s: string) => JSON.stringify(s).slice(1, -1);

/**
 * The payload of a record; holeOf gives the increment index of a value not known yet. Equal, holes
 * filled, to JSON.stringify([ts, op, JSON.stringify(mutations)]).
 */
export function payloadPieces(ts: number, op: string, muts: readonly RecordedMutation[], holeOf: (a: Assigned) => number): Pieces {
  const out: Pieces = [];
  let text = `[${ts},${JSON.stringify(op)},"[`;
  muts.forEach((m, i) => {
    if (i) text += ',';
    if (m.t === 'counter' && m.value instanceof Assigned && !m.value.known) {
      text += inString(`{"t":"counter","name":${JSON.stringify(m.name)},"value":`);
      out.push(text, holeOf(m.value));
      text = '}';
    } else text += inString(JSON.stringify(m));
  });
  out.push(`${text}]"]`);
  return out;
}
