/**
 * Boots a built card's root under `qemu-system-aarch64 -M virt` (slow tier): the kernel and initramfs
 * come from the card's boot slot A, the disk is the image file itself (virtio), the kernel command line
 * is the slot's own cmdline.txt with the console moved to QEMU's serial port. QEMU's machines do not
 * run the Pi's VideoCore firmware, so autoboot.txt, config.txt and tryboot are not exercised here
 * (image/README.md, Tests). The serial console is watched for milestones until a goal line; then QEMU is
 * killed, or, with `waitForExit`, left to finish (the guest powers itself off, so its disk is clean).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface BootOptions {
  image: string;
  kernel: string;
  initrd: string;
  /** The slot's cmdline.txt; its console= is replaced by the serial port. */
  cmdline: string;
  /** Named console patterns whose first appearance (seconds after start) is recorded. */
  milestones: Record<string, RegExp>;
  goal: RegExp;
  /** Lines that end the boot as failed at once (e.g. a unit that failed to start). */
  fatal?: RegExp;
  /** Covers the whole boot, and the power-off after the goal with `waitForExit`. */
  timeoutMs: number;
  /** After the goal, wait for QEMU to exit by itself (a guest power-off) instead of killing it. */
  waitForExit?: boolean;
  /** The whole console is written here too. */
  logFile: string;
}

export interface BootResult {
  reached: boolean;
  why: string;
  seconds: number;
  /** Seconds after start when the goal line appeared. */
  goalAt?: number;
  milestones: Record<string, number>;
  consoleTail: string;
}

export function bootUntil(o: BootOptions): Promise<BootResult> {
  const append = `${o.cmdline.trim().replace(/console=\S+/g, '')} console=ttyAMA0 panic=-1`.replace(/\s+/g, ' ').trim();
  const args = [
    '-M',
    'virt',
    '-cpu',
    'cortex-a72',
    '-smp',
    '2',
    '-m',
    '1024',
    '-nographic',
    '-no-reboot',
    '-nic',
    'none',
    '-kernel',
    o.kernel,
    '-initrd',
    o.initrd,
    '-append',
    append,
    '-drive',
    `file=${o.image},format=raw,if=virtio`,
  ];
  const started = Date.now();
  const seen: Record<string, number> = {};
  const log = createWriteStream(o.logFile);
  log.write(`qemu-system-aarch64 ${args.join(' ')}\n`);
  let text = '';
  let goalAt: number | undefined;
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-aarch64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let done = false;
    const finish = (reached: boolean, why: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      log.end();
      resolve({ reached, why, seconds: (Date.now() - started) / 1000, goalAt, milestones: seen, consoleTail: text.slice(-4000) });
    };
    const timer = setTimeout(() => finish(false, `timeout after ${o.timeoutMs / 1000} s`), o.timeoutMs);
    const onData = (b: Buffer): void => {
      log.write(b);
      // systemd colours its status lines: escape sequences sit between "Started" and the unit name.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI escape character is what is stripped.
      text += b.toString('utf8').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
      if (text.length > 1 << 20) text = text.slice(-(1 << 19));
      for (const [name, re] of Object.entries(o.milestones)) if (seen[name] === undefined && re.test(text)) seen[name] = (Date.now() - started) / 1000;
      if (goalAt === undefined && o.goal.test(text)) {
        goalAt = (Date.now() - started) / 1000;
        if (!o.waitForExit) finish(true, 'goal reached');
      } else if (o.fatal?.test(text)) finish(false, `fatal console line: ${o.fatal.exec(text)?.[0]}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      if (goalAt !== undefined) finish(true, `goal reached at ${goalAt.toFixed(0)} s, then qemu exited (${code})`);
      else finish(false, `qemu exited (${code})`);
    });
  });
}
