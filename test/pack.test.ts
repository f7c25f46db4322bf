/**
 * The package as a user receives it: built by `prepare` from a clean copy of the sources (as a
 * git install does), packed by `npm pack`, installed from the tarball into a fresh project with
 * no network, then imported from ESM, from CommonJS (require(esm), Node >= 20.19) and from a
 * strict TypeScript project (NodeNext, strict, exactOptionalPropertyTypes, lib check on).
 *
 * Everything runs in a temporary directory with its own npm cache; the repository's own dist/
 * is not touched (other test files read it while this one runs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface Run {
  stdout: string;
  stderr: string;
}

/** Run a command; reject with its output when it exits non-zero (bounded by `timeout`). */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${stdout}\n${stderr}`, { cause: err }));
      else resolve({ stdout, stderr });
    });
  });
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  files: string[];
  exports: Record<string, string | { types: string; default: string }>;
};

/** The subpaths whose module exists in this checkout (others belong to work not merged yet). */
function builtSubpaths(): string[] {
  const out: string[] = [];
  for (const [sub, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue; // ./package.json
    const src = target.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts');
    if (existsSync(join(ROOT, src))) out.push(sub);
  }
  return out;
}

test('pack: prepare builds a clean copy, the tarball installs offline and imports from ESM, CommonJS and strict TypeScript', { timeout: 240_000 }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'cortado-pack-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const env = { ...process.env, npm_config_cache: join(tmp, 'npm-cache'), npm_config_update_notifier: 'false' };

  // A clean copy of what a git clone holds (sources, configs, shipped docs), with the dev
  // dependencies present as they are after `npm install` in the clone; no dist/.
  const src = join(tmp, 'src-copy');
  mkdirSync(src);
  for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.base.json', 'src', ...pkg.files]) {
    if (entry === 'dist') continue;
    if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(src, entry), { recursive: true });
  }
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(src, 'node_modules'), 'dir');

  const packed = await run(NPM, ['pack', '--json', '--pack-destination', tmp], src, env);
  const report = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const files = new Set(report[0]!.files.map((f) => f.path));
  const tarball = join(tmp, report[0]!.filename);

  await t.test('the tarball holds the build, the types, the docs the README links to, and no tests', () => {
    const subs = builtSubpaths();
    assert.ok(subs.includes('.') && subs.includes('./otel') && subs.includes('./prometheus'), `subpaths found: ${subs.join(', ')}`);
    for (const sub of subs) {
      const target = pkg.exports[sub] as { types: string; default: string };
      assert.ok(files.has(target.default.slice(2)), `${sub}: ${target.default} missing from the tarball`);
      assert.ok(files.has(target.types.slice(2)), `${sub}: ${target.types} missing from the tarball`);
    }
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\((docs\/[^)#]+)/g)].map((m) => m[1]!);
    assert.ok(links.length > 0, 'README links into docs/');
    for (const link of links) assert.ok(files.has(link), `README links ${link}, which the package does not ship`);
    for (const f of files) assert.ok(!/^(test|build|bench|node_modules)\//.test(f), `${f} should not be shipped`);
  });

  const proj = join(tmp, 'app');
  mkdirSync(proj);
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run(NPM, ['install', '--offline', '--no-audit', '--no-fund', tarball], proj, env);
  const installed = join(proj, 'node_modules', pkg.name);
  assert.ok(existsSync(join(installed, 'dist', 'index.js')), 'installed package has dist/index.js');

  await t.test('ESM: every built subpath imports; the optional peers are not needed to import', async () => {
    const subs = builtSubpaths().map((s) => (s === '.' ? pkg.name : pkg.name + s.slice(1)));
    writeFileSync(
      join(proj, 'esm.mjs'),
      [
        `import { Cache } from '${pkg.name}';`,
        `const c = new Cache({ maxEntries: 2, policy: 'lru' });`,
        `c.set('a', 1); c.set('b', 2); c.get('a'); c.set('c', 3);`,
        `const names = [];`,
        `for (const s of ${JSON.stringify(subs)}) names.push(s + ':' + Object.keys(await import(s)).length);`,
        `console.log(JSON.stringify({ keys: [...c.keys()].sort(), names }));`,
      ].join('\n'),
    );
    const out = JSON.parse((await run(process.execPath, ['esm.mjs'], proj)).stdout) as { keys: string[]; names: string[] };
    assert.deepEqual(out.keys, ['a', 'c']);
    assert.equal(out.names.length, subs.length);
    for (const n of out.names) assert.ok(!n.endsWith(':0'), `${n}: a subpath that exports nothing`);
  });

  await t.test('CommonJS: require() gets the same API (require(esm), Node >= 20.19)', async () => {
    writeFileSync(
      join(proj, 'cjs.cjs'),
      [
        `const { Cache, sizeOf } = require('${pkg.name}');`,
        `const c = new Cache({ maxEntries: 10 });`,
        `c.set('k', 'v');`,
        `console.log(JSON.stringify({ v: c.get('k'), sizeOf: typeof sizeOf, memo: typeof require('${pkg.name}').memo }));`,
      ].join('\n'),
    );
    const { stdout, stderr } = await run(process.execPath, ['cjs.cjs'], proj);
    const out = JSON.parse(stdout) as { v: string; sizeOf: string; memo: string };
    assert.deepEqual(out, { v: 'v', sizeOf: 'function', memo: 'function' });
    assert.doesNotMatch(stderr, /ExperimentalWarning/);
  });

  await t.test('the metrics subpaths say which optional peer is missing', async () => {
    writeFileSync(
      join(proj, 'peers.mjs'),
      [
        `import { Cache } from '${pkg.name}';`,
        `import { instrumentCache } from '${pkg.name}/otel';`,
        `import { registerCache } from '${pkg.name}/prometheus';`,
        `const c = new Cache({ maxEntries: 2 });`,
        `const msgs = [];`,
        `try { instrumentCache(c); } catch (e) { msgs.push(e.code + ' ' + e.message); }`,
        `try { registerCache(c); } catch (e) { msgs.push(e.code + ' ' + e.message); }`,
        `console.log(JSON.stringify(msgs));`,
      ].join('\n'),
    );
    const msgs = JSON.parse((await run(process.execPath, ['peers.mjs'], proj)).stdout) as string[];
    assert.equal(msgs.length, 2);
    assert.match(msgs[0]!, /^ERR_CORTADO_PEER_MISSING .*@opentelemetry\/api/);
    assert.match(msgs[1]!, /^ERR_CORTADO_PEER_MISSING .*prom-client/);
  });

  await t.test('with the peers installed, the metrics subpaths run from ESM', async () => {
    // As `npm install @opentelemetry/api @opentelemetry/sdk-metrics prom-client` would (no registry here).
    const modules = realpathSync(join(ROOT, 'node_modules'));
    for (const peer of ['@opentelemetry/api', '@opentelemetry/sdk-metrics', 'prom-client']) {
      mkdirSync(join(proj, 'node_modules', peer, '..'), { recursive: true });
      symlinkSync(join(modules, peer), join(proj, 'node_modules', peer), 'dir');
    }
    writeFileSync(
      join(proj, 'metrics.mjs'),
      [
        `import { Cache } from '${pkg.name}';`,
        `import { instrumentCache } from '${pkg.name}/otel';`,
        `import { registerCache } from '${pkg.name}/prometheus';`,
        `import { Registry } from 'prom-client';`,
        `import { metrics } from '@opentelemetry/api';`,
        `import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';`,
        `class Reader extends MetricReader { async onShutdown() {} async onForceFlush() {} }`,
        `const reader = new Reader();`,
        `metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));`,
        `const cache = new Cache({ maxEntries: 10 });`,
        `const registry = new Registry();`,
        `const p = registerCache(cache, { registry, name: 'app' });`,
        `const o = instrumentCache(cache, { name: 'app' });`,
        `cache.get('missing');`,
        `const text = await registry.metrics();`,
        `const { resourceMetrics } = await reader.collect();`,
        `const misses = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'cortado.cache.misses');`,
        `p.stop(); o.stop();`,
        `console.log(JSON.stringify({ prom: /cortado_cache_misses_total\\{cache="app"\\} 1/.test(text), otel: misses.dataPoints[0].value }));`,
      ].join('\n'),
    );
    const out = JSON.parse((await run(process.execPath, ['metrics.mjs'], proj)).stdout) as { prom: boolean; otel: number };
    assert.deepEqual(out, { prom: true, otel: 1 });
  });

  await t.test('TypeScript: a strict NodeNext project type-checks against the shipped types (ESM and CommonJS files)', async () => {
    writeFileSync(
      join(proj, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          noEmit: true,
          // No registry here: take @types/node from the repository, as a Node project has it.
          typeRoots: [join(realpathSync(join(ROOT, 'node_modules')), '@types')],
          types: ['node'],
        },
        files: ['main.ts', 'legacy.cts', 'metrics.ts'],
      }),
    );
    writeFileSync(
      join(proj, 'main.ts'),
      [
        `import { Cache, memo, sizeOf, type CacheOptions, type RemovalCause } from '${pkg.name}';`,
        `const causes: RemovalCause[] = [];`,
        `const options: CacheOptions<string, number> = { maxEntries: 10, ttl: undefined, onRemove: (_k, _v, cause) => { causes.push(cause); } };`,
        `const cache = new Cache<string, number>(options);`,
        `cache.set('a', 1, { ttl: 1_000 });`,
        `const double = memo((n: number) => n * 2, { maxEntries: 100 });`,
        `const four: number = double(2);`,
        `const fetchName = memo(async (id: string) => id.toUpperCase(), { maxEntries: 100, ttl: 60_000 });`,
        `const later: Promise<string> = fetchName('x');`,
        'const sum = memo((a: number, b: number) => a + b, { maxEntries: 10, key: (a, b) => `${a},${b}` });',
        `const three: number = sum(1, 2);`,
        `// @ts-expect-error the memoized function keeps the parameter types of fn`,
        `double('2');`,
        `const hit: number | undefined = cache.get('a');`,
        `// @ts-expect-error values are numbers`,
        `cache.set('b', 'two');`,
        `// @ts-expect-error not a policy name`,
        `new Cache<string, number>({ maxEntries: 1, policy: 'fifo' });`,
        `export { hit, four, later, three, causes, sizeOf };`,
      ].join('\n'),
    );
    writeFileSync(
      join(proj, 'legacy.cts'),
      [
        `import { Cache } from '${pkg.name}';`,
        `const cache = new Cache<number, string>({ maxEntries: 1 });`,
        `// @ts-expect-error keys are numbers`,
        `cache.get('x');`,
        `export = cache;`,
      ].join('\n'),
    );
    writeFileSync(
      join(proj, 'metrics.ts'),
      [
        `import { Cache } from '${pkg.name}';`,
        `import { instrumentCache, type Instrumentation } from '${pkg.name}/otel';`,
        `import { registerCache, type Registration } from '${pkg.name}/prometheus';`,
        `import { Registry } from 'prom-client';`,
        `const cache = new Cache<string, number>({ maxEntries: 10 });`,
        `const o: Instrumentation = instrumentCache(cache, { name: 'app', attributes: { region: 'eu' } });`,
        `const p: Registration = registerCache(cache, { registry: new Registry(), labels: { region: 'eu' } });`,
        `// @ts-expect-error label values are strings`,
        `registerCache(cache, { labels: { shard: 1 } });`,
        `export { o, p };`,
      ].join('\n'),
    );
    const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
    await run(tsc, ['-p', 'tsconfig.json'], proj);
  });
});

test('docs: the lru-cache migration page covers every option and method of the installed lru-cache', () => {
  const types = readFileSync(join(ROOT, 'node_modules', 'lru-cache', 'dist', 'esm', 'index.d.ts'), 'utf8');
  const start = types.indexOf('interface OptionsBase<K, V, FC> {');
  assert.ok(start > 0, "lru-cache's OptionsBase not found: update this test for the new lru-cache");
  const body = types.slice(start, types.indexOf('\n    }\n', start));
  const options = [...body.matchAll(/^ {8}([a-zA-Z]+)\??:/gm)].map((m) => m[1]!);
  const cls = types.slice(types.indexOf('export declare class LRUCache'));
  const members = new Set([...cls.matchAll(/^ {4}(?:get |static )?([a-zA-Z]+)[<(]/gm)].map((m) => m[1]!));
  members.delete('constructor'); // covered as `new LRUCache(...)`
  assert.ok(options.length >= 20 && members.size >= 30, `parsed ${options.length} options and ${members.size} members`);
  const doc = readFileSync(join(ROOT, 'docs', 'migrating-from-lru-cache.md'), 'utf8');
  const missing = [...options, ...members].filter((name) => !doc.includes('`' + name) && !doc.includes('.' + name + '('));
  assert.deepEqual(missing, [], 'lru-cache names the migration page does not mention');
});
