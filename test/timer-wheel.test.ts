/** The hierarchical timer wheel on its own: every entry expires exactly once, never early, and purgeCurrent leaves nothing overdue. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TimerWheel } from 'cortado/internal';

const DAY = 86_400_000;

test('entries across every level expire exactly once, never early, and none is left overdue', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 10 * DAY }),
      fc.array(fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: 40 * DAY })), { minLength: 1, maxLength: 60, size: 'max' }),
      fc.array(fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 0, max: 5 * DAY })), { minLength: 1, maxLength: 40, size: 'max' }),
      (start, delays, steps) => {
        const wheel = new TimerWheel(delays.length, start);
        const deadline = delays.map((d) => start + d);
        deadline.forEach((t, s) => wheel.schedule(s, t));
        const expiredAt = new Map<number, number>();
        let now = start;
        const expire = (s: number) => {
          assert.ok(!expiredAt.has(s), `slot ${s} expired twice`);
          assert.ok(deadline[s]! <= now, `slot ${s} expired at ${now}, before its deadline ${deadline[s]}`);
          expiredAt.set(s, now);
        };
        for (const step of steps) {
          now += step;
          wheel.purgeCurrent(now, expire);
          for (let s = 0; s < deadline.length; s++) {
            assert.equal(expiredAt.has(s), deadline[s]! <= now, `slot ${s} (deadline ${deadline[s]}) at ${now}`);
          }
          wheel.validate((s) => !expiredAt.has(s));
        }
      },
    ),
    { numRuns: 200, seed: 11 },
  );
});

test('advance alone expires whatever lies in buckets whose tick has passed', () => {
  const wheel = new TimerWheel(3, 0);
  wheel.schedule(0, 500);
  wheel.schedule(1, 70_000); // level 1
  wheel.schedule(2, 10 * DAY); // level 3
  const seen: number[] = [];
  wheel.advance(2_048, (s) => seen.push(s));
  assert.deepEqual(seen, [0]);
  wheel.advance(140_000, (s) => seen.push(s));
  assert.deepEqual(seen, [0, 1]);
  wheel.advance(11 * DAY, (s) => seen.push(s));
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(wheel.scheduled, 0);
});

test('rescheduling and unscheduling keep each slot in exactly one place', () => {
  const wheel = new TimerWheel(4, 0);
  wheel.schedule(0, 100);
  wheel.schedule(0, 5 * DAY);
  wheel.schedule(1, 100);
  wheel.unschedule(1);
  wheel.unschedule(1);
  assert.equal(wheel.scheduled, 1);
  const seen: number[] = [];
  wheel.purgeCurrent(1_000, (s) => seen.push(s));
  assert.equal(seen.length, 0);
  wheel.purgeCurrent(5 * DAY, (s) => seen.push(s));
  assert.deepEqual(seen, [0]);
  wheel.validate(() => true);
});
