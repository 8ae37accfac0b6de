// What differs between SQL dialects: column types, upsert syntax, blob concatenation, RETURNING.
// Statements are written with `?` placeholders; a driver that numbers them ($1...) rewrites them.
import type { ColumnKind, TableDef } from './schema.js';

export type Row = Record<string, any>;

/** A connection inside a transaction. Sync drivers may return plain values. */
export interface SqlConn {
  all(sql: string, params: unknown[]): Promise<Row[]> | Row[];
  run(sql: string, params: unknown[]): Promise<number> | number;
  /** Affected rows and the statement's insert id (MySQL's LAST_INSERT_ID(expr)), where the driver has them. */
  insert?(sql: string, params: unknown[]): Promise<{ affected: number; insertId?: number }>;
  /**
   * A write whose result nobody reads: a networked driver may hold it and send it in the same round trip
   * as the next statement or the COMMIT. Its errors then surface there (the transaction fails as a whole).
   */
  defer?(sql: string, params: unknown[]): Promise<void>;
}

export interface Dialect {
  readonly name: string;
  /** RETURNING on INSERT ... ON CONFLICT / UPDATE. */
  readonly returning: boolean;
  /** Without RETURNING, an upsert may report the returned column as its insert id (LAST_INSERT_ID(expr)). */
  readonly returningId?: boolean;
  /**
   * Several counter increments as one statement (Tx.incrCounters): worth it where each statement is a round
   * trip to a server. Not on SQLite: in process, a multi-row upsert with RETURNING costs about twice the
   * one-row upserts it replaces (measured: 45-60 vs 23 us for two counters).
   */
  readonly batchCounters?: boolean;
  columnType(kind: ColumnKind, primaryKey: boolean): string;
  /** The value being inserted for `col`, usable in the update part of an upsert. */
  excluded(col: string): string;
  /** Blob concatenation. */
  concat(a: string, b: string): string;
  /** Blob concatenation that stays a blob (SQLite's || yields text). */
  blobConcat(a: string, b: string): string;
  /** INSERT of cols that, on a primary-key conflict on keys, applies `update` (SET fragments). */
  upsert(table: string, cols: string[], keys: string[], update: string[], returning?: string): string;
  createTable(def: TableDef, table: string): string[];
}

/** SQLite and PostgreSQL share the ON CONFLICT form. */
export abstract class OnConflictDialect implements Dialect {
  abstract readonly name: string;
  readonly returning: boolean = true;
  abstract columnType(kind: ColumnKind, primaryKey: boolean): string;

  excluded(col: string): string {
    return `excluded.${col}`;
  }

  concat(a: string, b: string): string {
    return `${a} || ${b}`;
  }

  blobConcat(a: string, b: string): string {
    return `CAST(${this.concat(a, b)} AS ${this.columnType('blob', false)})`;
  }

  upsert(table: string, cols: string[], keys: string[], update: string[], returning?: string): string {
    const sql = `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')}) ON CONFLICT (${keys.join(', ')}) DO ${
      update.length ? `UPDATE SET ${update.join(', ')}` : 'NOTHING'
    }`;
    return returning && this.returning ? `${sql} RETURNING ${returning}` : sql;
  }

  createTable(def: TableDef, table: string): string[] {
    const cols = def.columns.map(([n, k]) => `${n} ${this.columnType(k, def.primaryKey.includes(n))} NOT NULL`);
    const out = [`CREATE TABLE IF NOT EXISTS ${table} (${cols.join(', ')}, PRIMARY KEY (${def.primaryKey.join(', ')}))`];
    for (const idx of def.indexes ?? []) {
      out.push(`CREATE INDEX IF NOT EXISTS ${table}_${idx.join('_')} ON ${table} (${idx.join(', ')})`);
    }
    return out;
  }
}
