/**
 * The error catalogues against the code that throws: every code written in the sources (TypeScript and
 * the Python trainer) is catalogued, no code is built at run time from pieces, every catalogue entry is
 * used and says what to do, and docs/errors.md is the page generated from the catalogues. The compiler
 * does the rest: SidewalkError takes only catalogued codes (lib/error-codes.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { relayedCode } from '../../lib/errors.js';
import { ERROR_CATALOGUES, errorsMarkdown, lookupError } from '../../host-tools/errors/catalogues.js';
import { ERRORS_DOC } from '../../host-tools/errors/cli.js';
import { expectCleanFailure } from '../helpers/cli-guard.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { SIDEWALK_BIN } from '../helpers/service-process.js';

/** Production source folders (tests may name made-up codes on purpose). */
const SOURCE_ROOTS = ['bin', 'lib', 'runtime', 'ota', 'telemetry', 'build', 'image', 'host-tools'];
const SKIP_DIRS = new Set(['node_modules', '.venv', '__pycache__']);

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walk(join(dir, e.name));
      } else if (/\.(ts|py)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(join(dir, e.name));
    }
  };
  for (const root of SOURCE_ROOTS) walk(join(REPO_ROOT, root));
  return out.sort();
}

const CODE = '[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+';
/** A string literal that is a code: 'OTA_SLOT_VERIFY', "TRAIN_BAD_ARCH". */
const WHOLE_LITERAL = new RegExp(`(['"\`])(${CODE})\\1`, 'g');
/** A text that starts with a code, as relayed between processes or printed: `IMAGE_BUILD_FAILED: ...`. */
const CODE_PREFIXED_TEXT = new RegExp(`(['"\`])(?:sidewalk: )?(${CODE}): `, 'g');
/** A code put together at run time: SidewalkError(`${prefix}_OPEN`), TrainError(f"..."). */
const DYNAMIC_CODE = /(?:new SidewalkError|TrainError)\(\s*(?:`|f["'])/g;

const catalogued = new Map<string, string>();
for (const section of ERROR_CATALOGUES) for (const code of Object.keys(section.entries)) catalogued.set(code, section.file);
/** Area prefixes in use (OTA, ARTIFACT, CAMERA, ...): a code-shaped literal with one of them is an error code. */
const prefixes = new Set([...catalogued.keys()].map((c) => c.split('_')[0]!));

interface Site {
  file: string;
  line: number;
  code: string;
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

function scan(): { used: Site[]; dynamic: Omit<Site, 'code'>[] } {
  const used: Site[] = [];
  const dynamic: Omit<Site, 'code'>[] = [];
  for (const path of sourceFiles()) {
    const file = relative(REPO_ROOT, path);
    const text = readFileSync(path, 'utf8');
    for (const re of [WHOLE_LITERAL, CODE_PREFIXED_TEXT]) {
      for (const m of text.matchAll(re)) {
        if (prefixes.has(m[2]!.split('_')[0]!)) used.push({ file, line: lineOf(text, m.index), code: m[2]! });
      }
    }
    for (const m of text.matchAll(DYNAMIC_CODE)) dynamic.push({ file, line: lineOf(text, m.index) });
  }
  return { used, dynamic };
}

describe('error catalogues', () => {
  const { used, dynamic } = scan();

  test('the scan finds the codes it is meant to find (in TypeScript and in the Python trainer)', () => {
    const files = new Set(used.map((s) => s.file));
    assert.ok(files.has('ota/install/updater.ts') && files.has('host-tools/train/sidewalk_train/models.py'), [...files].join(', '));
    assert.ok(used.length > 300, `only ${used.length} code sites found`);
  });

  test('every code written in the sources is in a catalogue', () => {
    const unknown = used.filter((s) => !catalogued.has(s.code)).map((s) => `${s.file}:${s.line} ${s.code}`);
    assert.deepEqual(unknown, [], "add these codes to their area's catalogue (docs/errors.md lists the catalogues)");
  });

  test('no code is put together at run time (a code must be greppable where it is thrown)', () => {
    assert.deepEqual(
      dynamic.map((s) => `${s.file}:${s.line}`),
      [],
    );
  });

  test('every catalogue entry is thrown or reported somewhere', () => {
    // Catalogue keys are unquoted, so only quoted uses count (incl. the reader's short-name constants).
    const usedCodes = new Set(used.map((s) => s.code));
    const unused = [...catalogued].filter(([code]) => !usedCodes.has(code)).map(([code, file]) => `${file}: ${code}`);
    assert.deepEqual(unused, [], 'remove entries nothing throws or reports');
  });

  test('each code is in one catalogue, under its own name, and says what it means and what to do', () => {
    const seen = new Map<string, string>();
    for (const section of ERROR_CATALOGUES) {
      for (const [code, entry] of Object.entries(section.entries)) {
        assert.ok(!seen.has(code), `${code} is in ${seen.get(code)} and ${section.file}`);
        seen.set(code, section.file);
        assert.match(code, new RegExp(`^${CODE}$`), `${section.file}: ${code} is not SCREAMING_SNAKE_CASE with a prefix`);
        for (const [field, value] of Object.entries(entry)) {
          assert.match(value, /^\S.{8,}\.$/s, `${section.file}: ${code}.${field} must be a sentence: ${JSON.stringify(value)}`);
        }
      }
    }
  });

  test(`${ERRORS_DOC} is the page generated from the catalogues`, () => {
    const doc = readFileSync(join(REPO_ROOT, ERRORS_DOC), 'utf8');
    assert.equal(doc, errorsMarkdown(), 'run: npm run docs:errors');
    for (const code of catalogued.keys()) assert.ok(doc.includes(`| \`${code}\` |`), `${code} missing from ${ERRORS_DOC}`);
  });

  test('codes relayed from another process keep their code, or get the fallback when the text is not one', () => {
    assert.equal(relayedCode('TRAIN_BAD_ARCH', 'TRAIN_FAILED'), 'TRAIN_BAD_ARCH');
    assert.equal(relayedCode('Traceback (most recent call last)', 'TRAIN_FAILED'), 'TRAIN_FAILED');
    assert.equal(relayedCode('', 'PIPELINE_FAILED'), 'PIPELINE_FAILED');
    assert.equal(lookupError('OTA_SCOOTER_MOVING')?.summary, ERROR_CATALOGUES.find((s) => s.file === 'ota/errors.ts')!.entries.OTA_SCOOTER_MOVING!.summary);
    assert.equal(lookupError('toString'), undefined);
  });

  test('`sidewalk errors CODE` explains a code; an unknown code is a clean usage error', async () => {
    const out = execFileSync(process.execPath, [SIDEWALK_BIN, 'errors', 'ota_other_updater_running'], { encoding: 'utf8' });
    assert.match(out, /^OTA_OTHER_UPDATER_RUNNING\n {2}Another updater process holds .*\n {2}What to do: Wait for it/);
    await expectCleanFailure({ name: 'errors: unknown code', args: ['errors', 'OTA_LOCKED'], code: 'CLI_USAGE' });
  });
});
