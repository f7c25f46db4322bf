/**
 * A real `redis-server` for the Redis tests: started on a free 127.0.0.1 port in a temp dir
 * with persistence off (`--save ''`, `--appendonly no`), and the faults the chaos tests need:
 * SIGKILL and restart on the same port, SIGSTOP / SIGCONT (a hang, not a refusal).
 *
 * Why a child process per suite rather than one shared server: each suite owns its data and
 * its faults (a SIGSTOP in one suite must not stall another), and nothing is left behind: the
 * server is killed when the test process exits, even on a crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';
/** How long a start may take before it is called failed (a loaded CI machine is slow). */
const START_TIMEOUT_MS = 15_000;

/** A port the kernel just handed out on 127.0.0.1 (free at that moment). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  #child: ChildProcess | undefined;
  #paused = false;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts a server on a free port; retries with another port if the one picked was taken meanwhile. */
  static async start(): Promise<RedisServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), 'cortado-redis-')));
      try {
        await server.#spawn();
        return server;
      } catch (e) {
        lastError = e;
        rmSync(server.dir, { recursive: true, force: true });
      }
    }
    throw lastError;
  }

  async #spawn(): Promise<void> {
    const child = spawn(
      REDIS_SERVER,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'notice'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    live.add(child);
    let log = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`redis-server did not start within ${START_TIMEOUT_MS} ms:\n${log}`));
      }, START_TIMEOUT_MS);
      const onData = (chunk: Buffer): void => {
        log += chunk.toString();
        if (log.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        live.delete(child);
        reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${log}`));
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    this.#child = child;
    this.#paused = false;
    await ready;
  }

  /** SIGKILL, and resolves once the process is gone (its port is free again). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    this.#paused = false;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    live.delete(child);
  }

  /** Starts the server again on the same port (after `kill`); the data is gone (no persistence). */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }

  /** SIGSTOP: the server keeps its sockets open and answers nothing (a hang). */
  pause(): void {
    if (this.#child === undefined) throw new Error('redis-server is not running');
    this.#child.kill('SIGSTOP');
    this.#paused = true;
  }

  /** SIGCONT after `pause`. */
  resume(): void {
    if (this.#child === undefined) throw new Error('redis-server is not running');
    this.#child.kill('SIGCONT');
    this.#paused = false;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Kills the server and removes its directory; idempotent. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
