// Reading a photo's bytes from SQLite: the one statement per kind of read, and the read
// path's own connection that answers a whole event-loop turn's reads in one transaction.
//
// Why a transaction per turn: outside a transaction each statement is a read transaction
// of its own. SQLite takes the WAL read lock and lets it go (two fcntl calls), checks the
// file (fstat) and the wal-index, for every photo read. Under load one turn answers many
// reads; one transaction for all of them took a random read on a 100,000-user store from
// 15–18 to 10 µs in a loop (docs/performance.md, "scale").
//
// Why its own connection: a read transaction held on the store's connection would take
// in this process's writes (better-sqlite3 nests a transaction begun inside another as a
// savepoint, committed only with the outer one). Here the writes go through the store's
// connection as before, and this one only ever reads.
//
// Never stale: a snapshot is held at most to the end of the turn (setImmediate), and is
// let go of as soon as the store's change feed publishes a change — this process's
// commits publish theirs before another request can be handled, which the photo cache
// relies on too (photos/photo-cache.ts) — so a read after a write always sees it. Another
// process's commit is seen at the next turn at the latest, sooner than the feed hears of it.
import type BetterSqlite3 from 'better-sqlite3';
import Database from './sqlite-driver.js';
import type { Dimensions, PhotoContent, PhotoOwner } from './store.js';

/** Reads the bytes of the owner's photo in `size`, with its ETag, in one statement. */
export type ContentRead = (owner: PhotoOwner, size: Dimensions | 'primary') => PhotoContent | undefined;

/** A content read's row: etag, width, height, bytes. */
type ContentRow = [etag: string, width: number, height: number, bytes: Buffer];

/**
 * The reads on `db`. One row of photo_content answers a read (migration 008): the primary
 * through the partial index photo_content_primary, a size through photo_content_by_size.
 * Rows as arrays: better-sqlite3 builds a row object property by property, through V8's
 * slow path for every row; as arrays a read took 10.0 µs instead of 11.2–12.8 in isolation.
 */
export function contentReads(db: BetterSqlite3.Database): ContentRead {
  const key = 'tenant_id = ? AND owner_type = ? AND owner_id = ?';
  const columns = 'etag, width, height, bytes';
  const primary = db.prepare(`SELECT ${columns} FROM photo_content WHERE ${key} AND is_primary = 1`).raw();
  const sized = db.prepare(`SELECT ${columns} FROM photo_content WHERE ${key} AND width = ? AND height = ?`).raw();
  return (owner, size) => {
    // One statement, so the bytes and the ETag come from the same snapshot.
    const row = (
      size === 'primary'
        ? primary.get(owner.tenantId, owner.type, owner.id)
        : sized.get(owner.tenantId, owner.type, owner.id, size.width, size.height)
    ) as ContentRow | undefined;
    return row && { etag: row[0], width: row[1], height: row[2], bytes: row[3] };
  };
}

/** The read path's connection to the store's file: one read transaction per event-loop turn. */
export class TurnReads {
  readonly #db: BetterSqlite3.Database;
  readonly #read: ContentRead;
  readonly #begin: BetterSqlite3.Statement;
  readonly #commit: BetterSqlite3.Statement;
  /** A snapshot is held (a read transaction is open). */
  #holding = false;
  /** The end of the turn is scheduled: one setImmediate per turn, however often end() ran. */
  #scheduled = false;
  readonly #endOfTurn = (): void => {
    this.#scheduled = false;
    this.end();
  };

  /** `filename`: the store's file, already open in WAL mode and migrated by the store. */
  constructor(filename: string, mmapSize: number) {
    this.#db = new Database(filename, { readonly: true, fileMustExist: true });
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma(`mmap_size = ${mmapSize}`);
    this.#read = contentReads(this.#db);
    this.#begin = this.#db.prepare('BEGIN');
    this.#commit = this.#db.prepare('COMMIT');
  }

  read(owner: PhotoOwner, size: Dimensions | 'primary'): PhotoContent | undefined {
    if (!this.#holding) {
      this.#begin.run();
      this.#holding = true;
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#endOfTurn);
      }
    }
    try {
      return this.#read(owner, size);
    } catch (error) {
      // Whatever failed, the next read starts from a snapshot of its own.
      this.end();
      throw error;
    }
  }

  /** Lets go of the snapshot: the next read sees every commit made until then. */
  end(): void {
    if (!this.#holding) return;
    this.#holding = false;
    if (this.#db.inTransaction) this.#commit.run();
  }

  close(): void {
    this.end();
    this.#db.close();
  }
}
