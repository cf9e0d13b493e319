// The hot-size cache: a byte budget with least-recently-used eviction, and no way
// for a read that raced with a write to put a stale version back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { totalmem } from 'node:os';
import { loadServeConfig } from '../src/config.js';
import { defaultCacheBytes, PhotoCache, withHeaders, type CachedSize } from '../src/photos/photo-cache.js';

function entry(etag: string, size: number): CachedSize {
  return withHeaders({ etag, width: 48, height: 48, bytes: Buffer.alloc(size, 1) });
}

describe('PhotoCache', () => {
  it('serves what it was given, with the headers of a 200 computed once', () => {
    const cache = new PhotoCache(1000);
    cache.set('t/user/a', 'primary', entry('"A"', 100), cache.generation);
    const hit = cache.get('t/user/a', 'primary');
    assert.equal(hit?.etag, '"A"');
    assert.deepEqual(hit?.headers, {
      'content-type': 'image/jpeg',
      etag: '"A"',
      'cache-control': 'private, no-cache',
      'content-length': '100',
    });
    assert.equal(cache.get('t/user/a', '48x48'), undefined);
  });

  it('answers with what it keeps: its own copy, equal to what it was offered; else what it was offered', () => {
    const cache = new PhotoCache(150);
    const offered = entry('"A"', 100);
    const held = cache.set('t/user/a', 'primary', offered, cache.generation);
    assert.deepEqual(held, offered);
    assert.equal(cache.get('t/user/a', 'primary'), held, 'a hit is the very object set() answered with');
    const json = withHeaders({ etag: '"A"', width: 48, height: 48, bytes: Buffer.from('{}') }, 'application/json;odata.metadata=minimal');
    assert.deepEqual(cache.set('t/user/a', 'json', json, cache.generation), json, 'the JSON headers too');
    // Stale (loaded before an invalidation) or too large: not kept, answered as offered.
    const stale = cache.generation;
    cache.invalidateOwner('t/user/b');
    const late = entry('"B"', 10);
    assert.equal(cache.set('t/user/b', 'primary', late, stale), late);
    const large = entry('"C"', 151);
    assert.equal(cache.set('t/user/c', 'primary', large, cache.generation), large);
    assert.equal(cache.get('t/user/c', 'primary'), undefined);
  });

  it('keeps within its byte budget, evicting the least recently used first', () => {
    const cache = new PhotoCache(300);
    cache.set('o1', 's', entry('"1"', 100), cache.generation);
    cache.set('o2', 's', entry('"2"', 100), cache.generation);
    cache.set('o3', 's', entry('"3"', 100), cache.generation);
    cache.get('o1', 's'); // o2 is now the least recently used
    cache.set('o4', 's', entry('"4"', 100), cache.generation);
    assert.equal(cache.get('o4', 's'), undefined, 'a full cache only notes a first load');
    cache.set('o4', 's', entry('"4"', 100), cache.generation);
    assert.equal(cache.bytes, 300);
    assert.equal(cache.get('o2', 's'), undefined);
    assert.ok(cache.get('o1', 's') && cache.get('o3', 's') && cache.get('o4', 's'));
    cache.set('big', 's', entry('"B"', 301), cache.generation);
    assert.equal(cache.get('big', 's'), undefined, 'an entry larger than the budget is not kept');
    assert.equal(cache.bytes, 300);
  });

  it('keeps what is read while the rest turns over', () => {
    const cache = new PhotoCache(100 * 100);
    for (let i = 0; i < 100; i++) cache.set(`o${i}`, 's', entry(`"${i}"`, 100), cache.generation);
    // o0 is read now and then; everything else is replaced twice over, each new size loaded twice to pass the doorkeeper.
    for (let i = 0; i < 200; i++) {
      if (i % 20 === 0) assert.equal(cache.get('o0', 's')?.etag, '"0"', `o0 still held after ${i} new entries`);
      cache.set(`n${i}`, 's', entry('"n"', 100), cache.generation);
      cache.set(`n${i}`, 's', entry('"n"', 100), cache.generation);
    }
    assert.equal(cache.get('o0', 's')?.etag, '"0"');
    assert.equal(cache.get('o1', 's'), undefined, 'an entry never read went first');
    assert.equal(cache.get('n150', 's')?.etag, '"n"', 'the newer entries are held');
    assert.equal(cache.get('n100', 's'), undefined, 'o0 took the place of the oldest new one');
    assert.equal(cache.bytes, 100 * 100);
  });

  it('keeps exact least-recently-used order through thousands of evictions', () => {
    const cache = new PhotoCache(10 * 100);
    // Each size loaded twice: the second load passes the doorkeeper once the cache is full.
    for (let i = 0; i < 10_000; i++) {
      cache.set(`k${i}`, 's', entry(`"${i}"`, 100), cache.generation);
      cache.set(`k${i}`, 's', entry(`"${i}"`, 100), cache.generation);
    }
    assert.equal(cache.entries, 10);
    assert.equal(cache.bytes, 1000);
    for (let i = 9_990; i < 10_000; i++) assert.equal(cache.get(`k${i}`, 's')?.etag, `"${i}"`);
    assert.equal(cache.get('k9989', 's'), undefined);
    cache.get('k9990', 's'); // the oldest becomes the newest: k9991 is next to go
    cache.set('new', 's', entry('"new"', 100), cache.generation);
    cache.set('new', 's', entry('"new"', 100), cache.generation);
    assert.equal(cache.get('k9991', 's'), undefined);
    assert.equal(cache.get('k9990', 's')?.etag, '"9990"');
    // The newest entry taken out of the middle of the list, then the oldest pushed out: the ends hold.
    cache.invalidateOwner('k9990');
    assert.equal(cache.get('k9990', 's'), undefined);
    assert.equal(cache.entries, 9);
    cache.set('one more', 's', entry('"m"', 100), cache.generation);
    assert.equal(cache.get('one more', 's')?.etag, '"m"', 'room again: let in on its first load');
    cache.set('two more', 's', entry('"t"', 100), cache.generation);
    cache.set('two more', 's', entry('"t"', 100), cache.generation);
    assert.equal(cache.get('k9992', 's'), undefined, 'the oldest went');
    assert.equal(cache.get('k9993', 's')?.etag, '"9993"');
    assert.equal(cache.bytes, 1000);
    cache.clear();
    assert.equal(cache.entries, 0);
    cache.set('after', 's', entry('"a"', 100), cache.generation);
    assert.equal(cache.get('after', 's')?.etag, '"a"', 'usable after clear');
  });

  it('when full, does not let one-off loads of many owners push out what is read again', () => {
    const cache = new PhotoCache(1000);
    for (let i = 0; i < 10; i++) cache.set(`hot${i}`, 's', entry(`"${i}"`, 100), cache.generation);
    for (let i = 0; i < 5000; i++) {
      cache.set(`cold${i}`, 's', entry('"C"', 100), cache.generation);
      assert.ok(cache.get(`hot${i % 10}`, 's'));
    }
    for (let i = 0; i < 10; i++) assert.equal(cache.get(`hot${i}`, 's')?.etag, `"${i}"`);
    // A size loaded twice within the window is let in.
    cache.set('cold1', 's', entry('"C"', 100), cache.generation);
    cache.set('cold1', 's', entry('"C"', 100), cache.generation);
    assert.equal(cache.get('cold1', 's')?.etag, '"C"');
    assert.equal(cache.bytes, 1000);
  });

  it('evicts an owner\'s sizes one at a time, oldest first, whichever place each holds among the owner\'s', () => {
    const cache = new PhotoCache(5 * 100);
    for (const size of ['48x48', '64x64', '96x96', '120x120', 'primary']) cache.set('t/user/a', size, entry(`"${size}"`, 100), cache.generation);
    cache.get('t/user/a', '48x48'); // the first-loaded becomes the newest
    // Replaced in the middle of the owner's sizes (loaded twice: the cache is full).
    for (let i = 0; i < 2; i++) cache.set('t/user/a', '96x96', entry('"96 again"', 100), cache.generation);
    assert.equal(cache.entries, 5);
    assert.equal(cache.bytes, 500);
    const held = () => ['48x48', '64x64', '96x96', '120x120', 'primary'].filter((size) => cache.get('t/user/a', size) !== undefined);
    // Room for one other owner's size: the owner's least recently used size goes (64x64).
    for (let i = 0; i < 2; i++) cache.set('t/user/b', 'primary', entry('"b"', 100), cache.generation);
    assert.equal(cache.get('t/user/a', '64x64'), undefined);
    assert.equal(cache.get('t/user/a', '96x96')?.etag, '"96 again"');
    assert.deepEqual(held(), ['48x48', '96x96', '120x120', 'primary']);
    assert.equal(cache.entries, 5);
    cache.invalidateOwner('t/user/a');
    assert.deepEqual(held(), []);
    assert.equal(cache.get('t/user/b', 'primary')?.etag, '"b"');
    assert.equal(cache.entries, 1);
    assert.equal(cache.bytes, 100);
  });

  it('replacing an entry does not count its bytes twice', () => {
    const cache = new PhotoCache(1000);
    cache.set('o', 's', entry('"1"', 100), cache.generation);
    cache.set('o', 's', entry('"2"', 150), cache.generation);
    assert.equal(cache.bytes, 150);
    assert.equal(cache.get('o', 's')?.etag, '"2"');
  });

  it('forgets every size of an owner at once, and only that owner', () => {
    const cache = new PhotoCache(1000);
    cache.set('o', 'primary', entry('"1"', 10), cache.generation);
    cache.set('o', '48x48', entry('"1"', 10), cache.generation);
    cache.set('other', 'primary', entry('"9"', 10), cache.generation);
    cache.invalidateOwner('o');
    assert.equal(cache.get('o', 'primary'), undefined);
    assert.equal(cache.get('o', '48x48'), undefined);
    assert.equal(cache.get('other', 'primary')?.etag, '"9"');
    assert.equal(cache.bytes, 10);
  });

  it('does not store a read that began before an invalidation (it may be the old version)', () => {
    const cache = new PhotoCache(1000);
    const before = cache.generation; // a reader starts loading version 1 from the store…
    cache.invalidateOwner('o'); // …a write lands…
    cache.set('o', 'primary', entry('"1"', 10), before); // …and the reader's result arrives late
    assert.equal(cache.get('o', 'primary'), undefined);
    cache.set('o', 'primary', entry('"2"', 10), cache.generation);
    assert.equal(cache.get('o', 'primary')?.etag, '"2"');
    cache.clear();
    assert.equal(cache.get('o', 'primary'), undefined);
    assert.equal(cache.bytes, 0);
  });
});

describe('the default cache size (no --cache-mb)', () => {
  const MiB = 1024 * 1024;

  it('is an eighth of the memory the process may use, from 64 MiB to 1 GiB', () => {
    assert.equal(defaultCacheBytes(512 * MiB), 64 * MiB, 'a small container: the floor');
    assert.equal(defaultCacheBytes(2048 * MiB), 256 * MiB);
    assert.equal(defaultCacheBytes(4000 * MiB), 500 * MiB, 'whole MiB');
    assert.equal(defaultCacheBytes(24 * 1024 * MiB), 1024 * MiB, 'a large machine: the ceiling');
    assert.equal(defaultCacheBytes(2 ** 64), 1024 * MiB);
  });

  it('is what serve takes without the flag; the flag, 0 included, wins', () => {
    const argv = ['--data', '/tmp/portrait-config-test'];
    const machine = Math.min(totalmem(), process.constrainedMemory() || Infinity);
    assert.equal(loadServeConfig(argv, {}).cacheBytes, defaultCacheBytes(machine));
    assert.equal(loadServeConfig([...argv, '--cache-mb', '0'], {}).cacheBytes, 0);
    assert.equal(loadServeConfig([...argv, '--cache-mb', '100'], {}).cacheBytes, 100 * MiB);
    assert.equal(loadServeConfig(argv, { PORTRAIT_CACHE_MB: '32' }).cacheBytes, 32 * MiB);
    assert.throws(() => loadServeConfig([...argv, '--cache-mb', '1e3'], {}), /--cache-mb must be an integer from 0 to 65536/);
  });
});

