// The room-store contract on MySQL/MariaDB, in a database created for the run and dropped after.
import { requireMysql, scratchDatabase } from '../helpers/mysql.js';
import { roomStoreContract } from './store-contract.js';

roomStoreContract('mysql', async (ctx) => {
  await requireMysql(ctx);
  const db = await scratchDatabase();
  return { url: db.url, raw: (sql) => db.query(sql), cleanup: () => db.drop() };
});
