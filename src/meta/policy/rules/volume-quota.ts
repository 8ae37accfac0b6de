// The volume's capacity and inode limit from its format: ENOSPC when growth would pass either.
import { fsErr } from '../../../errors.js';
import type { Format } from '../../types.js';
import type { Rule } from '../guard.js';

export function volumeQuotaRule(format: Format): Rule | undefined {
  const { capacity, inodes: maxInodes } = format;
  if (!(capacity > 0) && !(maxInodes > 0)) return undefined;
  return {
    name: 'volume-quota',
    async charge(g, _at, space, inodes) {
      if (space > 0 && capacity > 0 && (await g.read((tx) => tx.getCounter('usedSpace'))) + space > capacity) throw fsErr('ENOSPC');
      if (inodes > 0 && maxInodes > 0 && (await g.read((tx) => tx.getCounter('totalInodes'))) + inodes > maxInodes) throw fsErr('ENOSPC');
    },
  };
}
