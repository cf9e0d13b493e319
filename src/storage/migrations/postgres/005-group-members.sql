-- Group membership (the SQLite twin is migrations/sqlite/005-group-members.sql). Members
-- are users of the group's tenant; a row goes when its group or its user goes.

CREATE TABLE group_members (
  tenant_id text NOT NULL,
  group_id  text NOT NULL,
  member_id text NOT NULL,
  PRIMARY KEY (tenant_id, group_id, member_id),
  FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, member_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX group_members_by_member ON group_members (tenant_id, member_id, group_id);
