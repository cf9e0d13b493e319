-- Group membership (POST /groups/{id}/members/$ref). Members are users: a row names a
-- group and a user of the same tenant, and goes when either of them goes (the foreign
-- keys cascade), so deleting a user or a group removes its memberships with it.

CREATE TABLE group_members (
  tenant_id TEXT NOT NULL,
  group_id  TEXT NOT NULL,
  member_id TEXT NOT NULL,
  PRIMARY KEY (tenant_id, group_id, member_id),
  FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, member_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- {user}/memberOf and joinedGroups: a user's groups, in group id order.
CREATE INDEX group_members_by_member ON group_members (tenant_id, member_id, group_id);
