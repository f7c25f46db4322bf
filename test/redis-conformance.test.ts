/** The Tier conformance suite over RedisTier, against a real redis-server started for this file. */
import { after, before } from 'node:test';
import { randomBytes } from 'node:crypto';
import { RedisTier } from 'cortado/redis';
import { tierConformance } from './tier-conformance.js';
import { RedisServer } from './redis-server.js';

let server: RedisServer;
before(async () => {
  server = await RedisServer.start();
});
after(async () => {
  await server?.stop();
});

/** Each test gets its own prefix; the generous timeout keeps a loaded CI machine from failing 4 MiB calls. */
let prefix = '';
tierConformance(
  'RedisTier',
  async () => {
    prefix = `conf:${randomBytes(6).toString('hex')}:`;
    const tier = await RedisTier.connect({ url: server.url, prefix, timeout: 10_000 });
    return {
      tier,
      cleanup: async () => {
        const sweeper = await RedisTier.connect({ url: server.url, prefix, timeout: 10_000 });
        await sweeper.clear();
        await sweeper.close();
      },
    };
  },
  {
    closedCode: 'ERR_CORTADO_TIER_CLOSED',
    // Redis keeps what a closed tier wrote: a new tier on the same prefix must see the last writes.
    reopen: async () => RedisTier.connect({ url: server.url, prefix, timeout: 10_000 }),
  },
);
