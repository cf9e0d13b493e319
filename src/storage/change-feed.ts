// What changed in the store, told to every in-process cache of it. The domain object
// that makes a change publishes it (a user deleted takes their photos and their
// contacts' photos with them, which the photo service must drop), and the store's
// watcher publishes `elsewhere` when another process committed: then anything may
// have changed, and every cache starts again from the store. Handlers and CLI
// commands never invalidate anything themselves.
import type { PhotoOwner } from './store.js';

export type StoredChange =
  /** A user and everything under them (contacts, folders, photos) were removed. */
  | { readonly kind: 'user-removed'; readonly tenantId: string; readonly userId: string }
  /** A group was changed (it got a team) or removed, with its photo. */
  | { readonly kind: 'group-changed'; readonly tenantId: string; readonly groupId: string }
  /** A member was added to the group or removed from it; the group itself is as it was. */
  | { readonly kind: 'members-changed'; readonly tenantId: string; readonly groupId: string }
  /** An owner's photo was replaced or deleted. */
  | { readonly kind: 'photo-changed'; readonly owner: PhotoOwner }
  /** Another process (or connection) committed something: which rows is not known. */
  | { readonly kind: 'elsewhere' };

export type ChangeListener = (change: StoredChange) => void;

/** A running watch over other processes' commits. */
export interface Watcher {
  /**
   * Whether every commit of another process reaches `notice` from now on (within the
   * store's notice time). While it is false a cache must not be trusted on its own.
   */
  readonly live: boolean;
  stop(): void;
}

/** Starts watching for other processes' commits, calling `notice` with each. */
export type Watch = (notice: (change: StoredChange) => void) => Watcher;

/**
 * Every store has one (Store.changes). It watches for other processes' commits only
 * while someone listens, so a short CLI command that opens the store costs nothing.
 */
export class ChangeFeed {
  readonly #listeners = new Set<ChangeListener>();
  readonly #watch: Watch | undefined;
  readonly #beforePublish: (() => void) | undefined;
  #watcher: Watcher | undefined;
  #closed = false;

  /**
   * `beforePublish`: the store's own part in every change, run before any listener hears
   * of it (SQLite: its read path lets go of the snapshot it holds, sqlite-photo-reads.ts).
   */
  constructor(watch?: Watch, beforePublish?: () => void) {
    this.#watch = watch;
    this.#beforePublish = beforePublish;
  }

  /**
   * Whether caches kept in front of the store may answer without asking it: someone
   * listens, and the store's watcher hears every other process's commit right now. A
   * cache that is not trusted still saves work, but checks with the store on each use.
   */
  get live(): boolean {
    return this.#watcher?.live ?? false;
  }

  /** Calls `listener` with every change published from now on; returns the unsubscribe. */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    if (!this.#closed && this.#watcher === undefined && this.#watch) {
      this.#watcher = this.#watch((change) => this.publish(change));
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  publish(change: StoredChange): void {
    this.#beforePublish?.();
    for (const listener of this.#listeners) listener(change);
  }

  /** Stops watching for good (the store is closing). */
  close(): void {
    this.#closed = true;
    this.#stop();
  }

  #stop(): void {
    this.#watcher?.stop();
    this.#watcher = undefined;
  }
}
