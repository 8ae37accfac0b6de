// The policy registry with FerryFS's own rules registered first; features add theirs with registerRule.
import { registerRule } from './guard.js';
import { immutableRule } from './rules/immutable.js';
import { trashRule } from './rules/trash.js';
import { ttlRule } from './rules/ttl.js';
import { volumeQuotaRule } from './rules/volume-quota.js';

registerRule('immutable', () => immutableRule);
registerRule('trash', () => trashRule);
registerRule('volume-quota', volumeQuotaRule);
registerRule('ttl', ttlRule);

export { Guard, Policy, registerRule } from './guard.js';
export type { Committing, Guarded, GuardOp, Role, Rule, RuleFactory, Target } from './guard.js';
