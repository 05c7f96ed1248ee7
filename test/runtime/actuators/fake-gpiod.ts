/**
 * Fake libgpiod tools over a fake GPIO chip, in both CLI generations:
 *  - v1 (1.6.x, Debian 12): `gpiofind NAME` -> "CHIP OFFSET"; `gpioset [--mode=exit|signal] CHIP OFFSET=V`.
 *  - v2 (2.x, Debian 13): no gpiofind; `gpioset [-i] [-t PERIODS] NAME=V` holds the line until killed;
 *    with `-i` (a build option upstream) it reads `set NAME=V` / `get NAME` commands on stdin.
 * The chip models what the Raspberry Pi kernel does without `dtparam=strict_gpiod`: a released
 * line keeps the level it was last driven to, and a held line is busy for everyone else. A v1
 * `--mode=signal` gpioset outlives its parent and keeps holding the line. The v2 interactive one
 * behaves like tools/gpioset.c: at stdin EOF readline() returns NULL, the loop prints its prompt again,
 * and with the parent gone that write kills it (SIGPIPE), so it releases the line (at its last level).
 */
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from '../../helpers/temp.js';

export interface FakeGpiodOptions {
  /** 1 = libgpiod 1.6 tools, 2 = libgpiod 2.x tools. Default 1. */
  generation?: 1 | 2;
  /** v2 only: gpioset built with --enable-gpioset-interactive. Default true. */
  interactive?: boolean;
  lineName?: string;
  chip?: string;
  offset?: number;
  /** Every gpioset fails as if another process held the line. */
  failSet?: boolean;
}

export interface FakeGpiod {
  dir: string;
  gpiosetPath: string;
  gpiofindPath: string;
  gpioinfoPath: string;
  logPath: string;
  /** The chip's level of the line ('0' / '1'), or null if never driven. Survives every gpioset. */
  level(): Promise<string | null>;
  /** Running gpioset processes: pid -> arguments (as logged at start). */
  running(): Promise<Map<number, string>>;
  /** Every gpioset invocation that took the line, in order. */
  invocations(): Promise<string[]>;
  cleanup(): Promise<void>;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function fakeGpiod(options: FakeGpiodOptions = {}): Promise<FakeGpiod> {
  const generation = options.generation ?? 1;
  const interactive = generation === 2 && (options.interactive ?? true);
  const name = options.lineName ?? 'GPIO17';
  const chip = options.chip ?? 'gpiochip3';
  const offset = options.offset ?? 17;
  const dir = await makeTempDir('sidewalk-gpiod-');
  const logPath = join(dir, 'gpioset.log');
  const levelPath = join(dir, 'line.level');
  const holderPath = join(dir, 'line.holder');
  await writeFile(logPath, '');
  const gpiofindPath = join(dir, 'gpiofind');
  const gpiosetPath = join(dir, 'gpioset');
  await writeFile(gpiofindPath, `#!/bin/bash\nif [ "$1" = "${name}" ]; then echo "${chip} ${offset}"; exit 0; fi\nexit 1\n`);
  const version = generation === 1 ? 'v1.6.3' : 'v2.2.1';
  // One script for both generations; GEN selects the argument grammar.
  const script = `#!/bin/bash
GEN=${generation}; INTER=${interactive ? 1 : 0}; FAILSET=${options.failSet ? 1 : 0}
LOG="${logPath}"; LEVEL="${levelPath}"; HOLDER="${holderPath}"
ARGS="$*"
die() { echo "gpioset: $*" >&2; exit 1; }
mode=hold; [ $GEN = 1 ] && mode=exit
inter=0; value=''; banner=0
while [ $# -gt 0 ]; do
  case "$1" in
    -v|--version) echo "gpioset (libgpiod) ${version}"; echo "Copyright (C) 2017-2023 Bartosz Golaszewski"; exit 0 ;;
    -h|--help)
      echo "Usage: gpioset [OPTIONS] <line=value>..."
      [ $INTER = 1 ] && echo "  -i, --interactive	set the lines then wait for additional set commands"
      echo "  -t, --toggle <period>[,period]..."; exit 0 ;;
    --mode=*) [ $GEN = 1 ] || die "unrecognized option '$1'"; mode="\${1#--mode=}" ;;
    -i|--interactive) [ $GEN = 2 ] && [ $INTER = 1 ] || die "invalid option -- 'i'"; inter=1 ;;
    -t|--toggle) [ $GEN = 2 ] || die "invalid option -- 't'"; shift; [ "$1" = 0 ] && mode=exit ;;
    --banner) [ $GEN = 2 ] || die "unrecognized option '$1'"; banner=1 ;;
    -*) die "unrecognized option '$1'" ;;
    *)
      if [ $GEN = 1 ]; then
        [ "$1" = "${chip}" ] || die "error opening the GPIO chip: No such file or directory"
        shift; [ "\${1%%=*}" = "${offset}" ] || die "error setting the GPIO line values: Invalid argument"
      else
        [ "\${1%%=*}" = "${name}" ] || die "cannot find line '\${1%%=*}'"
      fi
      value="\${1#*=}" ;;
  esac
  shift
done
[ -n "$value" ] || die "at least one GPIO line value must be specified"
case "$value" in 0|1) ;; *) die "invalid line value: '$value'" ;; esac
if [ $FAILSET = 1 ]; then die "error setting the GPIO line values: Device or resource busy"; fi
if [ -f "$HOLDER" ] && kill -0 "$(cat "$HOLDER")" 2>/dev/null; then die "unable to request lines: Device or resource busy"; fi
# The level changes in one step (a kill in between leaves the old one, like a line never taken).
echo "$value" > "$LEVEL.tmp"; mv "$LEVEL.tmp" "$LEVEL"; echo $$ > "$HOLDER"; echo "start $$ $ARGS" >> "$LOG"
[ $banner = 1 ] && echo "Setting line '${name}'..."
# Releasing the line leaves its level as it was (Raspberry Pi kernel default).
release() { rm -f "$HOLDER"; echo "stop $$" >> "$LOG"; }
if [ "$mode" = exit ]; then release; exit 0; fi
[ "$mode" = signal ] || [ "$mode" = hold ] || die "invalid mode: $mode"
trap 'release; exit 0' TERM INT
[ $inter = 1 ] && printf 'gpioset> '
while :; do
  if [ $inter = 1 ]; then
    read -r -t 0.05 cmd arg; rc=$?
    if [ $rc = 0 ]; then
      case "$cmd" in
        set) case "$arg" in "${name}="[01]) echo "\${arg#*=}" > "$LEVEL.tmp"; mv "$LEVEL.tmp" "$LEVEL" ;; *) echo "invalid line value: '$arg'" ;; esac ;;
        get) if [ "$(cat "$LEVEL")" = 1 ]; then echo '"${name}"=active'; else echo '"${name}"=inactive'; fi ;;
        exit) release; exit 0 ;;
        *) echo "unknown command: '$cmd'" ;;
      esac
      printf 'gpioset> '
    elif [ $rc -le 128 ]; then printf 'gpioset> '; sleep 0.02; fi
  else
    sleep 0.02
  fi
done
`;
  await writeFile(gpiosetPath, script);
  // v1 gpioinfo: the line is "[used]" by gpioset while a live process holds it.
  const gpioinfoPath = join(dir, 'gpioinfo');
  await writeFile(
    gpioinfoPath,
    `#!/bin/bash\n[ "$1" = "${chip}" ] || exit 1\necho "${chip} - 58 lines:"\nif [ -f "${holderPath}" ] && kill -0 "$(cat "${holderPath}")" 2>/dev/null; then\n  echo '\tline  ${offset}:   "${name}"  "gpioset"  output  active-high [used]'\nelse\n  echo '\tline  ${offset}:   "${name}"  unused  input  active-high'\nfi\n`,
  );
  await chmod(gpioinfoPath, 0o755);
  await chmod(gpiofindPath, 0o755);
  await chmod(gpiosetPath, 0o755);
  const lines = async (): Promise<string[]> => (await readFile(logPath, 'utf8')).split('\n').filter(Boolean);
  const running = async (): Promise<Map<number, string>> => {
    const map = new Map<number, string>();
    for (const line of await lines()) {
      const [what, pid, ...args] = line.split(' ');
      if (what === 'start') map.set(Number(pid), args.join(' '));
      else map.delete(Number(pid));
    }
    for (const pid of [...map.keys()]) if (!alive(pid)) map.delete(pid);
    return map;
  };
  return {
    dir,
    gpiosetPath,
    gpiofindPath,
    gpioinfoPath,
    logPath,
    level: async () => (await readFile(levelPath, 'utf8').catch(() => null))?.trim() ?? null,
    running,
    async invocations() {
      return (await lines()).filter((l) => l.startsWith('start ')).map((l) => l.split(' ').slice(2).join(' '));
    },
    async cleanup() {
      for (const pid of (await running()).keys()) process.kill(pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
