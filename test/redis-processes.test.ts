/**
 * Several Node processes sharing one real redis-server: invalidation over RedisBus between
 * two and four processes, invalidation through TieredCache, the cross-process stampede lock
 * (4 processes x 250 concurrent misses of one key) and a lock holder killed with SIGKILL.
 * Children are test/fixtures/redis-child.mjs; every wait is on a message or an exit event,
 * bounded by the test's timeout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Cache } from 'cortado';
import { TieredCache, type Invalidation } from 'cortado/tiered';
import { RedisBus, RedisLock, RedisTier } from 'cortado/redis';
import { RedisServer } from './redis-server.js';

const CHILD = fileURLToPath(new URL('../../test/fixtures/redis-child.mjs', import.meta.url));
const TIMEOUT = 60_000;

let server: RedisServer;
const children = new Set<ChildProcess>();
before(async () => {
  server = await RedisServer.start();
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await server?.stop();
});

interface Msg {
  type: string;
  [k: string]: unknown;
}

/** A child process with a queue of its messages. */
class Child {
  readonly proc: ChildProcess;
  readonly messages: Msg[] = [];
  #waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void; reject: (e: Error) => void }[] = [];
  constructor(role: string, name: string, extra = '') {
    this.proc = fork(CHILD, [role, server.url, name, extra], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(this.proc);
    this.proc.on('message', (m: Msg) => {
      if (m.type === 'unhandled') throw new Error(`unhandled rejection in child ${name}: ${String(m.error)}`);
      const i = this.#waiters.findIndex((w) => w.pred(m));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(m);
      else this.messages.push(m);
    });
    this.proc.on('exit', (code, signal) => {
      children.delete(this.proc);
      for (const w of this.#waiters.splice(0)) w.reject(new Error(`child ${name} exited (${code ?? signal}) while a message was awaited`));
    });
  }
  /** The next message (already queued or still to come) that matches. */
  next(pred: (m: Msg) => boolean): Promise<Msg> {
    const i = this.messages.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.messages.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => this.#waiters.push({ pred, resolve, reject }));
  }
  send(m: object): void {
    this.proc.send(m);
  }
  async exit(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) await once(this.proc, 'exit');
  }
}

let seq = 0;
const fresh = (what: string): string => `${what}:${process.pid}:${++seq}:`;

describe('invalidation between processes', () => {
  for (const count of [2, 4]) {
    test(`${count} processes: each hears every other's message once and never its own`, { timeout: TIMEOUT }, async () => {
      const channel = fresh('bus');
      const procs = Array.from({ length: count }, (_, i) => new Child('bus', `p${i}`, channel));
      await Promise.all(procs.map((p) => p.next((m) => m.type === 'ready')));
      for (const [i, p] of procs.entries()) {
        p.send({ cmd: 'publish', msg: { type: 'delete', keys: [`from-p${i}`] } });
        await p.next((m) => m.type === 'published');
      }
      for (const [i, p] of procs.entries()) {
        const heard: string[] = [];
        for (let k = 0; k < count - 1; k++) {
          const m = await p.next((x) => x.type === 'heard');
          heard.push(...((m.msg as Invalidation & { type: 'delete' }).keys as string[]));
        }
        const expected = procs.map((_, j) => `from-p${j}`).filter((_, j) => j !== i);
        assert.deepEqual(heard.sort(), expected.sort(), `p${i} heard the others`);
        assert.equal(
          p.messages.filter((m) => m.type === 'heard').length,
          0,
          `p${i} heard nothing more (its own message was skipped)`,
        );
      }
      for (const p of procs) p.send({ cmd: 'close' });
      await Promise.all(procs.map((p) => p.exit()));
    });
  }

  test('through TieredCache: a set in one process drops the stale copy from the other process memory', { timeout: TIMEOUT }, async () => {
    const prefix = fresh('tc');
    const channel = fresh('tc-bus');
    const tier = await RedisTier.connect({ url: server.url, prefix, timeout: 2_000 });
    const redisBus = new RedisBus({ url: server.url, channel, timeout: 2_000 });
    // Tells this test when TieredCache has handled a message from the child.
    let onHeard: () => void = () => {};
    const bus = {
      subscribe: (onMessage: (m: Invalidation) => void, onGap: () => void) =>
        redisBus.subscribe((m) => {
          onMessage(m);
          onHeard();
        }, onGap),
      publish: (m: Invalidation) => redisBus.publish(m),
      close: () => redisBus.close(),
    };
    const cache = new TieredCache<string, string>({ memory: new Cache({ maxEntries: 100 }), tiers: [{ tier, write: 'through' }], bus, ttl: 60_000 });
    await cache.ready();
    const child = new Child('tiered', 'b', `${prefix}|${channel}`);
    try {
      await child.next((m) => m.type === 'ready');
      let id = 0;
      const ask = async (m: object): Promise<Msg> => {
        const my = ++id;
        child.send({ ...m, id: my });
        return child.next((x) => x.type === 'value' && x.id === my);
      };
      await cache.set('k', 'v1');
      // The child may hear our set's invalidation before or after it reads; wait for it first.
      await child.next((m) => m.type === 'heard');
      assert.equal((await ask({ cmd: 'get', key: 'k' })).value, 'v1', 'read through from Redis');
      const again = await ask({ cmd: 'get', key: 'k' });
      assert.equal(again.value, 'v1');
      assert.ok((again.memory as number) >= 1, 'the second read is a memory hit in the child');
      await cache.set('k', 'v2');
      const heard = await child.next((m) => m.type === 'heard');
      assert.deepEqual(heard.msg, { type: 'delete', keys: ['k'] });
      assert.equal((await ask({ cmd: 'get', key: 'k' })).value, 'v2', 'the stale v1 was dropped from the child memory');
      // And the other way: the child sets, this process drops its copy.
      assert.equal(await cache.get('k'), 'v2');
      const dropped = new Promise<void>((resolve) => (onHeard = resolve));
      await ask({ cmd: 'set', key: 'k', value: 'v3' });
      await dropped;
      assert.equal(await cache.get('k'), 'v3');
      child.send({ cmd: 'close' });
      await child.exit();
    } finally {
      await cache.close();
    }
  });
});

describe('stampede across processes', () => {
  test('4 processes x 250 concurrent misses of one key call the loader at most 4 times (through TieredCache + RedisLock)', { timeout: TIMEOUT }, async (t) => {
    const prefix = fresh('stampede');
    const procs = Array.from({ length: 4 }, (_, i) => new Child('stampede', `s${i}`, prefix));
    await Promise.all(procs.map((p) => p.next((m) => m.type === 'ready')));
    for (const p of procs) p.send({ cmd: 'go' });
    const done = await Promise.all(procs.map((p) => p.next((m) => m.type === 'done')));
    const loads = done.reduce((s, d) => s + (d.loads as number), 0);
    const loaders = new Set(done.flatMap((d) => d.by as string[]));
    assert.ok(loads >= 1 && loads <= 4, `loader ran ${loads} times across 4 processes x 250 misses`);
    assert.ok(
      done.every((d) => d.allDates === true),
      'every caller got the value with its Date intact (v8 codec through Redis)',
    );
    assert.ok(loaders.size <= loads, `values came from ${loaders.size} loads`);
    // Report the figure (not an assertion on timing): ideally 1.
    t.diagnostic(`stampede: loader ran ${loads} time(s); lock stats ${JSON.stringify(done.map((d) => d.lock))}`);
    await Promise.all(procs.map((p) => p.exit()));
  });

  test('a lock holder killed with SIGKILL blocks the others only until the lock expires', { timeout: TIMEOUT }, async () => {
    const prefix = fresh('holder');
    const holder = new Child('holder', 'h', `${prefix}|k|400`);
    assert.equal((await holder.next((m) => m.type === 'locked' || m.type === 'not-locked')).type, 'locked');
    holder.proc.kill('SIGKILL');
    await holder.exit();
    const tier = await RedisTier.connect({ url: server.url, prefix, timeout: 2_000 });
    try {
      const lock = new RedisLock(tier, { ttl: 400 });
      let loads = 0;
      const value = await lock.singleFlight(
        'k',
        async () => {
          loads++;
          await tier.set('k', new Uint8Array([1]));
          return 'loaded';
        },
        async () => ((await tier.get('k')) ? 'reread' : undefined),
      );
      // The dead holder wrote nothing: after its lock expired this process took the lock and loaded.
      assert.equal(value, 'loaded');
      assert.equal(loads, 1);
      const s = lock.stats();
      assert.ok(s.contended >= 1, 'the dead holder lock was found held');
      assert.equal(s.acquired, 1, 'then taken after its expiry');
      assert.equal(s.unlockedLoads, 0, 'no fallback load without the lock');
    } finally {
      await tier.close();
    }
  });
});
