-- Listings are paged by key (storage/list-query-sql.ts): by id, or by displayName
-- without regard to case and then id. These indexes answer both orders as one range
-- scan from where the previous page ended, however many objects a tenant holds.
-- (003 is group membership's.)

CREATE INDEX users_by_name ON users (tenant_id, lower(display_name), id);
CREATE INDEX groups_by_name ON groups (tenant_id, lower(display_name), id);

DROP INDEX contact_folders_by_parent;
CREATE INDEX contact_folders_by_parent ON contact_folders (tenant_id, user_id, parent_folder_id, id);
CREATE INDEX contact_folders_by_name ON contact_folders (tenant_id, user_id, parent_folder_id, lower(display_name), id);

DROP INDEX contacts_by_folder;
CREATE INDEX contacts_by_folder ON contacts (tenant_id, user_id, folder_id, id);
CREATE INDEX contacts_by_name ON contacts (tenant_id, user_id, folder_id, lower(display_name), id);
