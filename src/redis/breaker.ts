/**
 * The circuit breaker of the Redis tier: after `failures` calls in a row fail (timeouts,
 * connection errors), Redis is skipped for `coolDown` ms, then probed with a PING; a probe
 * that succeeds closes the breaker, one that fails opens it for another cool-down.
 *
 * Why a breaker at all: while Redis is down or hung, every call would wait its full timeout
 * and pile up in the client; an open breaker answers at once (a miss for `get`, a rejection
 * for writes) so the memory tier and the loader keep serving at full speed, and the number of
 * commands waiting on a hung socket stays bounded by `failures` plus one probe.
 *
 * Why the breaker probes by itself (a PING on an unref'd timer) rather than letting the next
 * user call through, as the classic half-open state does (Nygard, "Release It!", 2007): a
 * user call used as a probe costs that caller a full timeout when Redis is still away, and a
 * quiet process would never find out that Redis came back. The client's 'ready' event (a
 * reconnect) also triggers a probe at once, so recovery after a restart is not delayed by the
 * cool-down. At most one timer and one probe exist at a time.
 */

export class CircuitBreaker {
  readonly #failures: number;
  readonly #coolDown: number;
  readonly #probe: () => Promise<unknown>;
  readonly #onChange: ((open: boolean) => void) | undefined;
  #consecutive = 0;
  #open = false;
  #probing = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #disposed = false;
  /** Times the breaker opened. */
  opens = 0;

  constructor(failures: number, coolDown: number, probe: () => Promise<unknown>, onChange?: (open: boolean) => void) {
    this.#failures = failures;
    this.#coolDown = coolDown;
    this.#probe = probe;
    this.#onChange = onChange;
  }

  /** True while calls skip Redis. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** A call succeeded: the count of failures in a row restarts, and an open breaker closes. */
  success(): void {
    this.#consecutive = 0;
    if (this.#open) this.#close();
  }

  /** A call failed; the `failures`-th in a row opens the breaker. */
  failure(): void {
    if (this.#open) return;
    if (++this.#consecutive >= this.#failures) this.trip();
  }

  /** Opens the breaker now (the connection is known to be down). */
  trip(): void {
    if (this.#open || this.#disposed) return;
    this.#open = true;
    this.opens++;
    this.#schedule(this.#coolDown);
    this.#notify(true);
  }

  /** Probe now if open (the client reconnected). */
  nudge(): void {
    if (this.#open && !this.#probing) this.#schedule(0);
  }

  /** Stops the timer; the breaker does nothing more. */
  dispose(): void {
    this.#disposed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #close(): void {
    this.#open = false;
    this.#consecutive = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#notify(false);
  }

  #notify(open: boolean): void {
    try {
      this.#onChange?.(open);
    } catch {
      // A listener's error must not stop the breaker.
    }
  }

  #schedule(ms: number): void {
    if (this.#disposed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#runProbe(), ms);
    this.#timer.unref();
  }

  #runProbe(): void {
    this.#timer = undefined;
    if (!this.#open || this.#probing || this.#disposed) return;
    this.#probing = true;
    this.#probe().then(
      () => {
        this.#probing = false;
        if (this.#open && !this.#disposed) this.#close();
      },
      () => {
        this.#probing = false;
        if (this.#open) this.#schedule(this.#coolDown);
      },
    );
  }
}
