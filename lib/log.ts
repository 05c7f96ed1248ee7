/**
 * Namespaced, levelled logging to stderr (stdout stays free for command output).
 *   SIDEWALK_LOG=debug | info | warn | error | silent   (default info)
 *   SIDEWALK_LOG=info,runtime:camera=debug               (per-namespace levels)
 *   SIDEWALK_LOG_FORMAT=json                             (one JSON object per line, for journald)
 * Messages may be functions so hot paths only build strings when the level is enabled.
 */
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;
type Message = string | (() => string);

export interface Logger {
  debug(msg: Message, fields?: Record<string, unknown>): void;
  info(msg: Message, fields?: Record<string, unknown>): void;
  warn(msg: Message, fields?: Record<string, unknown>): void;
  error(msg: Message, fields?: Record<string, unknown>): void;
  enabled(level: LogLevel): boolean;
}

function parseSpec(spec: string): { base: LogLevel; perNamespace: Map<string, LogLevel> } {
  let base: LogLevel = 'info';
  const perNamespace = new Map<string, LogLevel>();
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [ns, level] = part.includes('=') ? part.split('=', 2) : [undefined, part];
    if (!(level! in LEVELS)) continue;
    if (ns === undefined) base = level as LogLevel;
    else perNamespace.set(ns, level as LogLevel);
  }
  return { base, perNamespace };
}

let spec = parseSpec(process.env.SIDEWALK_LOG ?? 'info');
let json = process.env.SIDEWALK_LOG_FORMAT === 'json';

/** Overrides the environment (used by CLI flags such as --verbose / --quiet). */
export function configureLogging(options: { level?: string; json?: boolean }): void {
  if (options.level !== undefined) spec = parseSpec(options.level);
  if (options.json !== undefined) json = options.json;
}

function thresholdFor(namespace: string): number {
  let best: LogLevel | undefined;
  let bestLength = -1;
  for (const [ns, level] of spec.perNamespace) {
    if ((namespace === ns || namespace.startsWith(`${ns}:`)) && ns.length > bestLength) {
      best = level;
      bestLength = ns.length;
    }
  }
  return LEVELS[best ?? spec.base];
}

export function createLogger(namespace: string): Logger {
  const write = (level: LogLevel, msg: Message, fields?: Record<string, unknown>): void => {
    if (LEVELS[level] < thresholdFor(namespace)) return;
    const text = typeof msg === 'function' ? msg() : msg;
    if (json) {
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, ns: namespace, msg: text, ...fields })}\n`);
    } else {
      const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
      process.stderr.write(`${level.toUpperCase().padEnd(5)} [${namespace}] ${text}${extra}\n`);
    }
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    enabled: (level) => LEVELS[level] >= thresholdFor(namespace),
  };
}
