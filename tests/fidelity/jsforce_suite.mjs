// The emulator as jsforce sees it: every step calls jsforce's own API (nobody here wrote that client) and
// checks what comes back. Run by tests/fidelity/test_fidelity.py against `msr-engage emulator serve`.
//
// Input (env): FIDELITY_TOOLS (tools/node_modules), FIDELITY_URL, FIDELITY_CLIENT_ID,
// FIDELITY_CLIENT_SECRET, FIDELITY_USERNAME, FIDELITY_ORG_ID; NODE_EXTRA_CA_CERTS trusts the emulator.
// Output: one JSON line {"steps": [{"name", "ok", "error"?, "code"?}]}; every step runs even if one fails.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(`${process.env.FIDELITY_TOOLS}/`);
const jsforce = require('jsforce');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const VERSION = '59.0';
const conn = new jsforce.Connection({
  oauth2: {
    loginUrl: env('FIDELITY_URL'),
    clientId: env('FIDELITY_CLIENT_ID'),
    clientSecret: env('FIDELITY_CLIENT_SECRET'),
  },
  version: VERSION,
});
const steps = [];
const shared = {};
const RUN = Date.now().toString(36); // external ids unique to this run: the org outlives it

async function step(name, body) {
  try {
    await body();
    steps.push({ name, ok: true });
  } catch (err) {
    steps.push({ name, ok: false, error: String(err && err.message), code: err && (err.errorCode ?? err.name) });
  }
}

// The error shape of a refused call: jsforce turns Salesforce's [{errorCode, message}] into err.errorCode.
async function refused(call, errorCode) {
  let caught;
  try {
    await call();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, `expected ${errorCode}, the call succeeded`);
  assert.equal(caught.errorCode, errorCode, `expected ${errorCode}, got ${caught.errorCode}: ${caught.message}`);
  return caught;
}

await step('oauth client_credentials', async () => {
  const info = await conn.authorize({ grant_type: 'client_credentials' });
  assert.equal(info.organizationId, env('FIDELITY_ORG_ID'));
  assert.match(info.id, /^005/);
  shared.userId = info.id;
});

await step('identity', async () => {
  conn.userInfo = undefined; // follow the `identity` resource of /services/data/vXX.X, as a fresh client does
  const me = await conn.identity();
  assert.equal(me.username, env('FIDELITY_USERNAME'));
  assert.equal(me.organization_id, env('FIDELITY_ORG_ID'));
  assert.equal(me.user_id, shared.userId);
  const user = await conn.sobject('User').retrieve(me.user_id);
  assert.equal(user.Username, env('FIDELITY_USERNAME'));
});

await step('versions and resources', async () => {
  const versions = await conn.request('/services/data');
  assert.ok(versions.some((v) => v.version === VERSION), 'the version in use is listed');
  const resources = await conn.request(`/services/data/v${VERSION}`);
  for (const name of ['sobjects', 'query', 'queryAll', 'limits', 'composite', 'jobs', 'identity']) {
    assert.ok(resources[name], `resource ${name}`);
  }
  await refused(() => conn.request('/services/data/v20.0/limits'), 'NOT_FOUND');
});

await step('limits', async () => {
  const limits = await conn.limits();
  assert.ok(limits.DailyApiRequests.Max > 0);
  assert.ok(limits.DailyApiRequests.Remaining <= limits.DailyApiRequests.Max);
});

await step('describe', async () => {
  const global = await conn.describeGlobal();
  assert.ok(global.sobjects.some((o) => o.name === 'Contact' && o.keyPrefix === '003'));
  const contact = await conn.sobject('Contact').describe();
  const lastName = contact.fields.find((f) => f.name === 'LastName');
  assert.equal(lastName.type, 'string');
  assert.equal(lastName.nillable, false);
  const recent = await conn.recent('Contact'); // GET /sobjects/Contact: describe-basic
  assert.ok(Array.isArray(recent));
  const basic = await conn.request(`/services/data/v${VERSION}/sobjects/Contact`);
  assert.equal(basic.objectDescribe.name, 'Contact');
});

await step('crud', async () => {
  const accounts = conn.sobject('Account');
  const created = await accounts.create({ Name: 'Fidelity One' });
  assert.equal(created.success, true);
  assert.equal((await accounts.retrieve(created.id)).Name, 'Fidelity One');
  const updated = await accounts.update({ Id: created.id, Name: 'Fidelity Uno' });
  assert.equal(updated.success, true);
  assert.equal((await accounts.retrieve(created.id)).Name, 'Fidelity Uno');
  assert.equal((await accounts.destroy(created.id)).success, true);
  await refused(() => accounts.retrieve(created.id), 'ENTITY_IS_DELETED');
  shared.deletedAccount = created.id;
});

await step('collections, lowercase field names', async () => {
  const accounts = conn.sobject('Account');
  const made = await accounts.create([{ name: 'Coll A' }, { Name: 'Coll B' }, { Name: 'Coll C' }]);
  assert.deepEqual(made.map((r) => r.success), [true, true, true]);
  const ids = made.map((r) => r.id);
  // jsforce sends each record's id as lowercase `id`; Salesforce reads field names case-insensitively.
  const updated = await accounts.update(ids.map((id, i) => ({ Id: id, nAmE: `Coll ${i} updated` })));
  assert.deepEqual(updated.map((r) => r.success), [true, true, true], JSON.stringify(updated));
  const rows = await conn.query(`SELECT name FROM account WHERE id IN ('${ids.join("','")}') ORDER BY name`);
  assert.deepEqual(rows.records.map((r) => r.Name), ['Coll 0 updated', 'Coll 1 updated', 'Coll 2 updated']);
  const contactId = (await conn.query('SELECT Id FROM Contact LIMIT 1')).records[0].Id;
  const lines = conn.sobject('Lead_Score_Line__c');
  const first = await lines.upsert(
    [
      { External_Id__c: `fid-${RUN}-1`, contact__c: contactId, Rule__c: 'fidelity', Points__c: 5 },
      { External_Id__c: `fid-${RUN}-2`, Contact__c: contactId, rule__c: 'fidelity', Points__c: 7 },
    ],
    'External_Id__c',
  );
  assert.deepEqual(first.map((r) => [r.success, r.created]), [[true, true], [true, true]], JSON.stringify(first));
  const again = await lines.upsert([{ External_Id__c: `fid-${RUN}-1`, points__c: 9 }], 'External_Id__c');
  assert.deepEqual(again.map((r) => [r.success, r.created]), [[true, false]]);
  const points = await conn.query(`SELECT Points__c FROM Lead_Score_Line__c WHERE External_Id__c = 'fid-${RUN}-1'`);
  assert.equal(points.records[0].Points__c, 9);
  const gone = await accounts.destroy(ids);
  assert.deepEqual(gone.map((r) => r.success), [true, true, true]);
  const bad = await accounts.create([{ Name: 'ok' }, { Nope__c: 1 }], { allOrNone: false });
  assert.equal(bad[0].success, true);
  assert.equal(bad[1].success, false);
  assert.equal(bad[1].errors[0].statusCode, 'INVALID_FIELD');
  await accounts.destroy(bad[0].id);
});

await step('query, queryMore, queryAll', async () => {
  const total = (await conn.query('SELECT COUNT() FROM Contact')).totalSize;
  assert.ok(total > 200, `the demo org has more than one page of 200 (${total})`);
  const headers = { 'Sforce-Query-Options': 'batchSize=200' };
  const first = await conn.query('SELECT Id FROM Contact ORDER BY Id', { autoFetch: false, headers });
  assert.equal(first.done, false);
  assert.equal(first.records.length, 200);
  assert.equal(first.totalSize, total);
  const second = await conn.queryMore(first.nextRecordsUrl, { headers });
  assert.equal(second.records.length, Math.min(200, total - 200));
  assert.notEqual(second.records[0].Id, first.records[0].Id);
  const all = await conn.query('SELECT Id FROM Contact', { autoFetch: true, maxFetch: 100000, headers });
  assert.equal(all.records.length, total);
  assert.equal(new Set(all.records.map((r) => r.Id)).size, total);
  const deletedSoql = `SELECT Id, IsDeleted FROM Account WHERE Id = '${shared.deletedAccount}'`;
  const deleted = await conn.query(deletedSoql, { scanAll: true }); // jsforce's queryAll
  assert.equal(deleted.records.length, 1);
  assert.equal(deleted.records[0].IsDeleted, true);
  const live = await conn.query(`SELECT Id FROM Account WHERE Id = '${shared.deletedAccount}'`);
  assert.equal(live.totalSize, 0);
});

await step('error shapes', async () => {
  await refused(() => conn.query('SELECT FROM Contact'), 'MALFORMED_QUERY');
  await refused(() => conn.query('SELECT Nope__c FROM Contact'), 'INVALID_FIELD');
  await refused(() => conn.query('SELECT Id FROM Nope__c'), 'INVALID_TYPE');
  await refused(() => conn.sobject('Account').retrieve('001000000000000AAA'), 'NOT_FOUND');
  const missing = await refused(
    () => conn.sobject('Contact').create({ FirstName: 'No last name' }),
    'REQUIRED_FIELD_MISSING',
  );
  assert.match(missing.message, /LastName/);
  const stale = new jsforce.Connection({ instanceUrl: conn.instanceUrl, accessToken: 'expired', version: VERSION });
  await refused(() => stale.query('SELECT Id FROM Contact LIMIT 1'), 'INVALID_SESSION_ID');
});

await step('bulk 2.0 ingest', async () => {
  const csv = 'Name\nBulk Fid 1\nBulk Fid 2\nBulk Fid 3\n';
  const results = await conn.bulk2.loadAndWaitForResults({
    object: 'Account', operation: 'insert', input: csv, pollInterval: 200, pollTimeout: 60000,
  });
  assert.equal(results.successfulResults.length, 3);
  assert.equal(results.failedResults.length, 0);
  const names = results.successfulResults.map((r) => r.Name).sort();
  assert.deepEqual(names, ['Bulk Fid 1', 'Bulk Fid 2', 'Bulk Fid 3']);
  assert.ok(results.successfulResults.every((r) => r.sf__Created === 'true' && /^001/.test(r.sf__Id)));
});

await step('bulk 2.0 query', async () => {
  const stream = await conn.bulk2.query("SELECT Id, Name FROM Account WHERE Name LIKE 'Bulk Fid%'", {
    pollInterval: 200, pollTimeout: 60000,
  });
  const records = [];
  await new Promise((resolve, reject) => {
    stream.on('record', (r) => records.push(r));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  assert.deepEqual(records.map((r) => r.Name).sort(), ['Bulk Fid 1', 'Bulk Fid 2', 'Bulk Fid 3']);
});

process.stdout.write(`${JSON.stringify({ steps })}\n`);
