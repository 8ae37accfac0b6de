// Failure test: PostgreSQL "restarted" mid-load, through a TCP proxy (the shared server on 5432 is never
// touched): connections reset, refused for a second, COMMIT replies lost. See test/helpers/failure-sql.ts.
import { sqlConnectionCuts } from './helpers/failure-sql.js';

await sqlConnectionCuts('postgres');
