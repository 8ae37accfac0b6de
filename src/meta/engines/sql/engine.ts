// What every SQL engine shares around its transactions: schema creation, changelog reads and trims.
import type { Engine, Tx } from '../../tx.js';
import type { Dialect, SqlConn } from './dialect.js';
import { TABLES } from './schema.js';
import { SqlStatements, SqlTx } from './tx.js';

export abstract class SqlEngine implements Engine {
  abstract readonly name: string;
  readonly statements: SqlStatements;
  /** SQL statements run in transactions and reads so far (BEGIN/COMMIT not counted): what one operation costs. */
  statementCount = 0;

  constructor(readonly url: string, readonly dialect: Dialect, readonly prefix: string) {
    this.statements = new SqlStatements(dialect, prefix);
  }

  /** Runs fn inside one read-write transaction on a connection, retrying on conflicts. */
  protected abstract withWrite<T>(fn: (c: SqlConn) => Promise<T>): Promise<T>;
  /** Runs fn on a connection that sees the latest committed state. */
  protected abstract withRead<T>(fn: (c: SqlConn) => Promise<T>): Promise<T>;
  /** Runs schema statements, creating the database if `create`. */
  protected abstract execute(sql: string[], create: boolean): Promise<void>;
  abstract close(): Promise<void>;

  txn<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.withWrite((c) => fn(new SqlTx(this.counted(c), this.statements)));
  }

  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.withRead((c) => fn(new SqlTx(this.counted(c), this.statements)));
  }

  /** The connection with each statement counted in statementCount. */
  private counted(c: SqlConn): SqlConn {
    const count = () => void this.statementCount++;
    return {
      all: (sql, params) => (count(), c.all(sql, params)),
      run: (sql, params) => (count(), c.run(sql, params)),
      insert: c.insert && ((sql, params) => (count(), c.insert!(sql, params))),
      defer: c.defer && ((sql, params) => (count(), c.defer!(sql, params))),
    };
  }

  async createSchema(): Promise<void> {
    await this.execute(TABLES.flatMap((def) => this.dialect.createTable(def, this.prefix + def.name)), true);
  }

  async dropSchema(): Promise<void> {
    await this.execute(TABLES.map((def) => `DROP TABLE IF EXISTS ${this.prefix + def.name}`), false);
  }

  readChangelog(from: number, limit: number): Promise<Array<{ version: number; op: string; ts: number; record: string }>> {
    return this.withRead(async (c) => {
      const rows = await c.all(
        `SELECT version, ts, op, record FROM ${this.prefix}changelog WHERE version > ? ORDER BY version LIMIT ${Math.floor(limit)}`,
        [from],
      );
      return rows.map((r) => ({ version: Number(r.version), ts: Number(r.ts), op: String(r.op), record: String(r.record) }));
    });
  }

  trimChangelog(upTo: number): Promise<number> {
    return this.withWrite(async (c) => c.run(`DELETE FROM ${this.prefix}changelog WHERE version <= ?`, [upTo]));
  }
}
