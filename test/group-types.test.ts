// groupTypes as a client sets it: a Microsoft 365 group ("Unified") stays one, with or without
// a team, and a listing's $filter finds it; what Portrait does not keep is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHarness, type Harness } from './helpers/harness.js';

describe('groupTypes', () => {
  let h: Harness;
  let auth: Record<string, string>;

  before(async () => {
    h = await createHarness();
    auth = { authorization: `Bearer ${await h.appToken(['Group.ReadWrite.All'])}` };
  });
  after(() => h.close());

  const send = async (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) => {
    const res = await h.app.inject({ method, url: `/v1.0${url}`, headers: { ...auth, 'content-type': 'application/json' }, ...(payload !== undefined && { payload: JSON.stringify(payload) }) });
    return { status: res.statusCode, body: res.json() as Record<string, any> };
  };

  it('keeps ["Unified"] as created, and [] for a security group', async () => {
    const unified = await send('POST', '/groups', { displayName: 'Marketing', mailNickname: 'marketing', groupTypes: ['Unified'] });
    assert.equal(unified.status, 201, JSON.stringify(unified.body));
    assert.deepEqual(unified.body.groupTypes, ['Unified']);
    assert.deepEqual(unified.body.resourceProvisioningOptions, []);
    assert.deepEqual((await send('GET', `/groups/${unified.body.id}`)).body.groupTypes, ['Unified'], 'as read back');
    const security = await send('POST', '/groups', { displayName: 'Badge readers', mailNickname: 'badges' });
    assert.deepEqual(security.body.groupTypes, []);

    const unifiedOnly = await send('GET', `/groups?$filter=${encodeURIComponent("groupTypes/any(c:c eq 'Unified')")}`);
    const ids = unifiedOnly.body.value.map((g: { id: string }) => g.id);
    assert.ok(ids.includes(unified.body.id));
    assert.ok(!ids.includes(security.body.id));
  });

  it('a group given a team is a Microsoft 365 group', async () => {
    const group = await send('POST', '/groups', { displayName: 'Ops', mailNickname: 'ops' });
    assert.equal((await send('PUT', `/groups/${group.body.id}/team`, {})).status, 201);
    const read = await send('GET', `/groups/${group.body.id}`);
    assert.deepEqual(read.body.groupTypes, ['Unified']);
    assert.deepEqual(read.body.resourceProvisioningOptions, ['Team']);
  });

  it('refuses group types Portrait does not keep, naming the property', async () => {
    for (const groupTypes of [['DynamicMembership'], ['Unified', 'Unified'], 'Unified', [7]]) {
      const res = await send('POST', '/groups', { displayName: 'X', mailNickname: 'x', groupTypes });
      assert.equal(res.status, 400, JSON.stringify(groupTypes));
      assert.match(res.body.error.message, /groupTypes/);
    }
  });
});
