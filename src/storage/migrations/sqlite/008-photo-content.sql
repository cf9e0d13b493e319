-- One lean probe per photo read (issue 12 §2). Until 007 a content read joined photos
-- and photo_sizes: a probe of photos' unique index, the photos row, then a probe of
-- photo_sizes. On a 100,000-user store (1.9 GB) that was 37–40 µs a read and p99 of
-- 6.5–9.2× the p99 on 100 users. photo_content answers a read alone: one probe of a
-- unique index, then one rowid fetch (20–22 µs measured). Each row carries the owner
-- key and the photo's ETag, so bytes and ETag still come from one row, one snapshot.
-- `photos` stays as it is (metadata, master, precondition checks); its rows own their
-- content rows (ON DELETE CASCADE), so every delete of a photo still takes its sizes.
-- The PostgreSQL twin is migrations/postgres/008-photo-content.sql.

CREATE TABLE photo_content (
  id         INTEGER PRIMARY KEY,
  photo_id   INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
  tenant_id  TEXT NOT NULL,
  owner_type TEXT NOT NULL CHECK (owner_type IN ('user', 'group', 'contact')),
  owner_id   TEXT NOT NULL,
  width      INTEGER NOT NULL,
  height     INTEGER NOT NULL,
  is_primary INTEGER NOT NULL CHECK (is_primary IN (0, 1)),
  etag       TEXT NOT NULL,
  -- Last: the small columns sit in the row's first page, the bytes overflow after them.
  bytes      BLOB NOT NULL
) STRICT;

-- Moved in place, in the transaction that records 008: a crash leaves 007 whole.
INSERT INTO photo_content (photo_id, tenant_id, owner_type, owner_id, width, height, is_primary, etag, bytes)
SELECT s.photo_id, p.tenant_id, p.owner_type, p.owner_id, s.width, s.height,
       s.width = p.width AND s.height = p.height, p.etag, s.bytes
FROM photo_sizes s JOIN photos p ON p.id = s.photo_id
ORDER BY s.photo_id, s.width, s.height;

DROP TABLE photo_sizes;

-- Built after the copy: one sort instead of an index update per row.
CREATE UNIQUE INDEX photo_content_by_size ON photo_content (tenant_id, owner_type, owner_id, width, height);
CREATE UNIQUE INDEX photo_content_primary ON photo_content (tenant_id, owner_type, owner_id) WHERE is_primary = 1;
CREATE INDEX photo_content_by_photo ON photo_content (photo_id);
