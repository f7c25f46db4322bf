#!/usr/bin/env node
/** The `cortado` command. Subcommands: `sim` (the trace simulator). */
import { main as sim, helpText as simHelp, packageVersion } from './sim/main.js';

const USAGE = `Usage: cortado <command> [options]

Commands:
  sim     replay access traces (or built-in workloads) through every policy and report
          hit ratios against cache size; "cortado sim --help" for details

Options:
  -V, --version   print the version
  -h, --help      this text
`;

// A reader that stops early (`cortado sim ... | head`) is not an error of ours.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const io = {
  out: (s: string) => void process.stdout.write(s),
  err: (s: string) => void process.stderr.write(s),
  errIsTTY: process.stderr.isTTY === true,
};

const [command, ...rest] = process.argv.slice(2);
if (command === 'sim') {
  process.exitCode = await sim(rest, io);
} else if (command === '--version' || command === '-V') {
  io.out(`cortado ${packageVersion()}\n`);
} else if (command === '--help' || command === '-h' || command === 'help') {
  io.out(rest[0] === 'sim' ? simHelp() : USAGE);
} else {
  io.err(command === undefined ? USAGE : `cortado: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  process.exitCode = 2;
}
