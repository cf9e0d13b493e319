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
  /** An owner's photo was replaced or deleted. */
  | { readonly kind: 'photo-changed'; readonly owner: PhotoOwner }
  /** Another process (or connection) committed something: which rows is not known. */
  | { readonly kind: 'elsewhere' };

export type ChangeListener = (change: StoredChange) => void;

/** Starts watching for other processes' commits, calling `notice` for each; returns the stop. */
export type Watch = (notice: () => void) => () => void;

/**
 * Every store has one (Store.changes). It watches for other processes' commits only
 * while someone listens, so a short CLI command that opens the store costs nothing.
 */
export class ChangeFeed {
  readonly #listeners = new Set<ChangeListener>();
  readonly #watch: Watch | undefined;
  #stopWatching: (() => void) | undefined;
  #closed = false;

  constructor(watch?: Watch) {
    this.#watch = watch;
  }

  /** Calls `listener` with every change published from now on; returns the unsubscribe. */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    if (!this.#closed && this.#stopWatching === undefined && this.#watch) {
      this.#stopWatching = this.#watch(() => this.publish({ kind: 'elsewhere' }));
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  publish(change: StoredChange): void {
    for (const listener of this.#listeners) listener(change);
  }

  /** Stops watching for good (the store is closing). */
  close(): void {
    this.#closed = true;
    this.#stop();
  }

  #stop(): void {
    this.#stopWatching?.();
    this.#stopWatching = undefined;
  }
}
