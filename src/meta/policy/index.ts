// The policy registry with FerryFS's own rules registered first; features add theirs with registerRule.
import { registerRule } from './guard.js';
import { dirQuotaRule } from './rules/dir-quota.js';
import { immutableRule } from './rules/immutable.js';
import { readOnlyRule } from './rules/read-only.js';
import { trashRule } from './rules/trash.js';
import { ttlRule } from './rules/ttl.js';
import { volumeQuotaRule } from './rules/volume-quota.js';

// Read-only first: a read-only subtree answers EROFS whatever else would refuse the change.
registerRule('read-only', readOnlyRule);
registerRule('immutable', () => immutableRule);
registerRule('trash', () => trashRule);
registerRule('volume-quota', volumeQuotaRule);
registerRule('dir-quota', dirQuotaRule);
registerRule('ttl', ttlRule);

export { Guard, Policy, registerRule } from './guard.js';
export type { Committing, Guarded, GuardOp, Role, Rule, RuleFactory, Target } from './guard.js';
