/**
 * The one version order of the project (app versions, model versions, TFLite runtime versions).
 *
 * Rule (semver-ish): build metadata after "+" is ignored. The core before the first "-" is dotted
 * numbers compared numerically, a missing part counting as 0 ("2.9" == "2.9.0", "1.10" > "1.9"); a
 * part that does not start with digits counts as 0. A pre-release (after "-") sorts BELOW the same
 * core without one ("1.2.0-rc.1" < "1.2.0"); two pre-releases compare part by part, numeric parts
 * numerically and below alphanumeric ones, which compare as text, and a shorter list of equal parts
 * is lower ("1.0.0-alpha" < "1.0.0-alpha.1" < "1.0.0-beta" < "1.0.0-rc.2" < "1.0.0-rc.10").
 */

interface Parsed {
  core: number[];
  pre: string[];
}

function parse(version: string): Parsed {
  const withoutBuild = version.trim().split('+')[0]!;
  const dash = withoutBuild.indexOf('-');
  const core = dash < 0 ? withoutBuild : withoutBuild.slice(0, dash);
  const pre = dash < 0 ? [] : withoutBuild.slice(dash + 1).split('.');
  return { core: core.split('.').map((p) => Number.parseInt(p, 10) || 0), pre };
}

function comparePreParts(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return Math.sign(Number(a) - Number(b));
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative, zero or positive like a comparator (-1, 0, 1), by the rule above. */
export function compareVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < Math.max(pa.core.length, pb.core.length); i++) {
    const d = Math.sign((pa.core[i] ?? 0) - (pb.core[i] ?? 0));
    if (d !== 0) return d;
  }
  if (pa.pre.length === 0 || pb.pre.length === 0) return Math.sign(pb.pre.length - pa.pre.length);
  for (let i = 0; i < Math.min(pa.pre.length, pb.pre.length); i++) {
    const d = comparePreParts(pa.pre[i]!, pb.pre[i]!);
    if (d !== 0) return d;
  }
  return Math.sign(pa.pre.length - pb.pre.length);
}

/**
 * Whether `have` meets the minimum `min` (min_app_version gates). Pre-releases are judged by their
 * release: a development build of 1.3.0 ("1.3.0-dev") runs what needs 1.3.0.
 */
export function meetsMinimum(have: string, min: string): boolean {
  const release = (v: string): string => v.trim().replace(/[-+].*$/, '');
  return compareVersions(release(have), release(min)) >= 0;
}
