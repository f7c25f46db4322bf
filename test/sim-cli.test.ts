/** `cortado sim`: argument errors, exit codes, JSON shape, bytes mode, chart, and the bin itself. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main, knownPolicies } from '#sim';

const dir = mkdtempSync(join(tmpdir(), 'cortado-sim-cli-'));
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s), errIsTTY: false });
  return { code, out, err };
}

/** A small text trace: a loop of 30 keys with a hot key between each, sizes 1..4. */
function smallTrace(): string {
  const lines: string[] = [];
  for (let r = 0; r < 20; r++) for (let k = 0; k < 30; k++) lines.push(`${k},${1 + (k % 4)}`, `hot,2`);
  const p = join(dir, 'small.csv');
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

describe('usage errors: exit 2, the flag named, nothing on stdout', () => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /--bogus/],
    [['--sizes', '10,abc'], /--sizes: "abc"/],
    [['--sizes', '0%'], /--sizes: 0%/],
    [['--sizes', '10,,20'], /--sizes: empty entry/],
    [['--sizes', '5MiB', 'x.csv'], /--sizes: "5MiB" has a unit.*--bytes/],
    [['--policies', 'lru,nope'], /--policies: unknown policy "nope"/],
    [['--format', 'xml', 'x.csv'], /--format: unknown format "xml"/],
    [['--seed', '1.5'], /--seed/],
    [['--chart', 'a.html', '--no-chart'], /--chart and --no-chart/],
    [['--bytes'], /--bytes needs a trace with object sizes/],
  ];
  for (const [argv, re] of cases) {
    test(argv.join(' '), async () => {
      const r = await run(...argv);
      assert.equal(r.code, 2);
      assert.equal(r.out, '');
      assert.match(r.err, re);
    });
  }
});

describe('trace errors: exit 1, file and place named, nothing on stdout', () => {
  test('missing file', async () => {
    const r = await run('--no-chart', join(dir, 'absent.csv'));
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /absent\.csv: cannot read/);
  });
  test('malformed line after good ones', async () => {
    const p = join(dir, 'bad.csv');
    writeFileSync(p, 'a,1\nb,2\nc,oops\n');
    const r = await run('--no-chart', '--bytes', p);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /bad\.csv: line 3/);
  });
  test('the second trace is bad: the first one is not printed either', async () => {
    const good = smallTrace();
    const bad = join(dir, 'bad2.trc.bin');
    writeFileSync(bad, Buffer.from([0, 0, 0, 1, 0, 0]));
    const r = await run('--no-chart', good, bad);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /bad2\.trc\.bin: truncated int32 record at byte offset 4/);
  });
  test('an empty trace', async () => {
    const p = join(dir, 'empty.csv');
    writeFileSync(p, 'key,size\n# nothing here\n');
    const r = await run('--no-chart', p);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /empty\.csv: no requests/);
  });
  test('--bytes on a format without sizes', async () => {
    const p = join(dir, 'k.trc.bin');
    writeFileSync(p, Buffer.alloc(8));
    const r = await run('--no-chart', '--bytes', p);
    assert.equal(r.code, 1);
    assert.match(r.err, /--bytes needs object sizes/);
  });
});

test('--json: one document with a row per policy x size and the optimum', async () => {
  const p = smallTrace();
  const r = await run('--no-chart', '--json', '--sizes', '10%,50%,10', p);
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.equal(doc.tool, 'cortado sim');
  assert.equal(doc.mode, 'count');
  assert.equal(doc.traces.length, 1);
  const t = doc.traces[0];
  assert.equal(t.trace, 'small');
  assert.equal(t.format, 'text');
  assert.equal(t.requests, 1200);
  assert.equal(t.uniqueKeys, 31);
  const policies = [...knownPolicies(), 'belady'];
  // 10% of 31 keys = 3, 50% = 16 (rounded), and 10 given directly.
  assert.deepEqual([...new Set(t.rows.map((x: { capacity: number }) => x.capacity))].sort((a, b) => (a as number) - (b as number)), [3, 10, 16]);
  assert.equal(t.rows.length, policies.length * 3);
  for (const row of t.rows) {
    assert.ok(policies.includes(row.policy), row.policy);
    assert.equal(row.hits + row.misses, 1200);
    assert.equal(row.hitRatio, row.hits / 1200);
    assert.equal(row.missRatio, row.misses / 1200);
    assert.equal(typeof row.size, 'string');
    assert.equal(row.offline, row.policy === 'belady');
    assert.equal(row.byteMissRatio, undefined);
  }
  for (const cap of [3, 10, 16]) {
    const at = t.rows.filter((x: { capacity: number }) => x.capacity === cap);
    const opt = at.find((x: { policy: string }) => x.policy === 'belady');
    for (const row of at) assert.ok(opt.hits >= row.hits, `belady >= ${row.policy} at ${cap}`);
  }
  // The loop of 30 keys defeats LRU at 16 entries: only the hot key hits.
  const lru = t.rows.find((x: { policy: string; capacity: number }) => x.policy === 'lru' && x.capacity === 16);
  assert.equal(lru.hits, 599);
});

test('--bytes: byte miss ratio and the size-aware optimum', async () => {
  const p = smallTrace();
  const r = await run('--no-chart', '--json', '--bytes', '--policies', 'lru', '--sizes', '20,25%', p);
  assert.equal(r.code, 0, r.err);
  const t = JSON.parse(r.out).traces[0];
  assert.equal(t.mode, 'bytes');
  // Keys 0..29 weigh 1 + k % 4 (8x1 + 8x2 + 7x3 + 7x4 = 73), plus 2 for the hot key.
  assert.equal(t.uniqueBytes, 75);
  assert.deepEqual([...new Set(t.rows.map((x: { policy: string }) => x.policy))], ['lru', 'belady', 'belady-size']);
  for (const row of t.rows) {
    assert.ok(row.byteMissRatio > 0 && row.byteMissRatio <= 1);
    assert.ok(row.capacity === 20 || row.capacity === 19); // 25% of 75 unique bytes rounds to 19
  }
});

test('table output names policies and sizes; --policies subset', async () => {
  const r = await run('--no-chart', '--policies', 'lru,sieve', '--sizes', '5,10', '--no-optimum', smallTrace());
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /small: /);
  assert.match(r.out, /^lru\s/m);
  assert.match(r.out, /^sieve\s/m);
  assert.doesNotMatch(r.out, /^belady/m);
  assert.match(r.out, /^cache size\s+5\s+10$/m);
  assert.doesNotMatch(r.out, /miss%/, 'hit% only: the miss ratio is 100 - hit%');
  assert.match(r.out, /^ {2}hit%: requests that hit/m);
});

describe('issue #10 item 17: --sizes, CSV headers, oracleGeneral next-access times', () => {
  test('a size too large for a safe integer says so (not "at least 1")', async () => {
    for (const [argv, re] of [
      [['--sizes', '99999999999999999999'], /--sizes: 99999999999999999999 is too large/],
      [['--sizes', '9007199254740993'], /--sizes: 9007199254740993 is too large/],
      [['--bytes', '--sizes', '99999999999GiB', 'x.csv'], /--sizes: 99999999999GiB is too large \(more than 2\^53 - 1 bytes\)/],
    ] as [string[], RegExp][]) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, re);
      assert.doesNotMatch(r.err, /at least 1/);
    }
    assert.match((await run('--sizes', '0')).err, /--sizes: 0 must be at least 1/);
  });
  test('a first CSV line with a malformed size is an error naming line 1, not a header', async () => {
    for (const first of ['17,12x', '17,-3', 'user:1,1e', 'a,.5.5']) {
      const p = join(dir, 'first-bad.csv');
      writeFileSync(p, `${first}
b,2
c,3
`);
      const r = await run('--no-chart', '--bytes', '--sizes', '10', p);
      assert.equal(r.code, 1, first);
      assert.equal(r.out, '');
      assert.match(r.err, /first-bad\.csv: line 1: size/, first);
    }
    // A line with nothing numeric in it is a header, and is skipped.
    for (const header of ['key,size', 'id,bytes', '"k","sz"']) {
      const p = join(dir, 'header.csv');
      writeFileSync(p, `${header}
a,2
b,3
a,2
`);
      const r = await run('--no-chart', '--json', '--bytes', '--sizes', '10', p);
      assert.equal(r.code, 0, `${header}: ${r.err}`);
      assert.equal(JSON.parse(r.out).traces[0].requests, 3);
    }
  });
  /** oracleGeneral records; `next` is the 1-based vtime of the key's next request, or -1. */
  const oracle = (records: [id: number, next: number][]): Buffer => {
    const b = Buffer.alloc(records.length * 24);
    records.forEach(([id, next], i) => {
      b.writeUInt32LE(i, i * 24);
      b.writeBigUInt64LE(BigInt(id), i * 24 + 4);
      b.writeUInt32LE(100, i * 24 + 12);
      b.writeBigInt64LE(BigInt(next), i * 24 + 16);
    });
    return b;
  };
  test('an oracleGeneral trace whose next-access times do not match its keys is refused', async () => {
    const cases: [string, [number, number][], RegExp][] = [
      // request 1 (object 1) names request 3, which is object 3's
      ['other-object', [[1, 3], [2, -1], [3, -1], [1, -1]], /object 1 is requested here, but its previous request named request 3/],
      // object 5 says it is not requested again, and is
      ['said-never', [[5, -1], [6, -1], [5, -1]], /object 5 is requested again after a request that said it would not be/],
      // object 8 names a request past the end
      ['past-end', [[8, 2], [8, 9]], /object 8's last request names request 9 as its next access, but the trace ends after request 2/],
      // object 9 names request 2, which is object 4's, and never comes back
      ['never-back', [[9, 2], [4, -1]], /object 9's last request names request 2 as its next access, but request 2 is another object's/],
    ];
    for (const [name, records, re] of cases) {
      const p = join(dir, `${name}.oracleGeneral.bin`);
      writeFileSync(p, oracle(records));
      const r = await run('--no-chart', '--sizes', '2', p);
      assert.equal(r.code, 1, name);
      assert.equal(r.out, '', `${name}: no belady row that could pass for an upper bound`);
      assert.match(r.err, re, name);
      assert.match(r.err, /next_access_vtime fields do not match the keys/);
    }
    // A consistent trace runs, and its optimum is an upper bound.
    const p = join(dir, 'fine.oracleGeneral.bin');
    writeFileSync(p, oracle([[1, 3], [2, 5], [1, 6], [3, -1], [2, -1], [1, -1]]));
    const r = await run('--no-chart', '--json', '--sizes', '1,2', p);
    assert.equal(r.code, 0, r.err);
    const t = JSON.parse(r.out).traces[0];
    assert.equal(t.uniqueKeys, 3);
    for (const cap of [1, 2]) {
      const rows = t.rows.filter((x: { capacity: number }) => x.capacity === cap);
      const opt = rows.find((x: { policy: string }) => x.policy === 'belady');
      for (const row of rows) assert.ok(opt.hits >= row.hits, `belady >= ${row.policy} at ${cap}`);
    }
  });
});

describe('issue #10 item 8: a --chart path that cannot be written fails before the replay', () => {
  // The trace is bad at its last line: an error about it would mean the replay ran first.
  const lateBad = () => {
    const p = join(dir, 'late-bad.csv');
    writeFileSync(p, Array.from({ length: 5000 }, (_, i) => `k${i % 300},1`).join('\n') + '\nz,oops\n');
    return p;
  };
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, 'not a directory');
  for (const [name, chart, re] of [
    ['under a regular file', join(blocker, 'sub', 'chart.html'), /--chart: cannot write .*a-file is not a directory/],
    ['a directory', dir, /--chart: cannot write .*: it is a directory/],
  ] as [string, string, RegExp][]) {
    test(name, async () => {
      const r = await run('--bytes', '--chart', chart, lateBad());
      assert.equal(r.code, 2, r.err);
      assert.equal(r.out, '');
      assert.match(r.err, re);
      assert.doesNotMatch(r.err, /late-bad\.csv/, 'the trace was not replayed');
      assert.doesNotMatch(r.err, /cortado sim: \d+%/, 'no progress: nothing ran');
    });
  }
});

test('no trace: the built-in workloads (a quick subset)', async () => {
  const r = await run('--no-chart', '--json', '--policies', 'lru', '--sizes', '1%', '--no-optimum');
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.deepEqual(doc.traces.map((t: { trace: string }) => t.trace), ['zipf', 'loop', 'scan+hot', 'shift']);
  const again = JSON.parse((await run('--no-chart', '--json', '--policies', 'lru', '--sizes', '1%', '--no-optimum')).out);
  assert.deepEqual(again, doc, 'seeded: the same numbers every run');
});

test('--chart writes a self-contained HTML page with an SVG per trace', async () => {
  const out = join(dir, 'sub', 'chart.html');
  const r = await run('--chart', out, '--policies', 'lru,s3fifo', '--sizes', '5,10,20', smallTrace());
  assert.equal(r.code, 0, r.err);
  assert.ok(existsSync(out));
  const html = readFileSync(out, 'utf8');
  assert.match(html, /^<!doctype html>/);
  assert.equal(html.match(/<svg/g)?.length, 1);
  assert.match(html, /belady/);
  assert.doesNotMatch(html, /<script/);
  assert.match(r.err, /chart written to /);
  assert.ok(r.err.includes(`chart written to ${out}`), 'the absolute path is printed');
});

test('the bin: --help, exit codes', () => {
  const help = spawnSync(process.execPath, [cli, 'sim', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: cortado sim/);
  assert.match(help.stdout, /8 bytes\s+per request/);
  const bad = spawnSync(process.execPath, [cli, 'sim', '--sizes', 'x'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /--sizes/);
  const none = spawnSync(process.execPath, [cli], { encoding: 'utf8' });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /Usage: cortado <command>/);
});
