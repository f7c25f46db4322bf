// What the process retains right now: V8 heap in use plus ArrayBuffer backing stores, after
// two full collections (the second catches what the first's finalizers freed). Needs
// `node --expose-gc`. Shared by the memory benchmarks so that they measure the same thing.
export function retained() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
