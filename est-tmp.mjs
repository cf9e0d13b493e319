const { SqliteStore } = await import('/work/main/dist/src/storage/sqlite-store.js');
const { PortraitMetrics } = await import('/work/main/dist/src/metrics/portrait-metrics.js');
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
const dir = process.argv[2];
const raw = new Database(`${dir}/portrait.db`, { readonly: true });
const tenant = raw.prepare("select tenant_id from photo_content limit 1").pluck().get();
raw.close();
const plain = new SqliteStore({ filename: `${dir}/portrait.db` });
const metrics = new PortraitMetrics();
const timed = metrics.timeStore(new SqliteStore({ filename: `${dir}/portrait.db` }));
const ids = readFileSync(`${dir}/paths.txt`, 'utf8').trim().split('\n').map((p) => p.split('/')[3]);
const N = 200000;
for (const [name, s] of [['plain', plain], ['timed', timed], ['plain', plain], ['timed', timed]]) {
  const t = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < N; i++) bytes += s.readPhotoContentNow({ tenantId: tenant, type: 'user', id: ids[(i * 7919) % ids.length] }, 'primary').bytes.length;
  const u = process.cpuUsage(t);
  console.log(name, ((u.user + u.system) / N).toFixed(2), 'µs/read', bytes / N);
}
metrics.close();
