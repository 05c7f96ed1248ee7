/** Runs `sidewalk eval ARGS` in-process and returns what it printed (also passed through to stdout). */
import { Command } from 'commander';
import { registerEvalCommands } from '../../../host-tools/eval/cli.js';

export async function runEvalCli(args: string[]): Promise<string> {
  const program = new Command('sidewalk').exitOverride();
  registerEvalCommands(program);
  const printed: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  // Record and pass through: the test runner reports earlier results through the same stream.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    printed.push(String(chunk));
    return write(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['eval', ...args], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return printed.join('');
}
