/**
 * System accounts the units need (User=sidewalk, SupplementaryGroups=video gpio dialout), added to the
 * base's /etc/passwd, /etc/group and /etc/shadow when missing. Ids already in the base are kept.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SidewalkError } from '../lib/errors.js';

const FIRST_SYSTEM_ID = 999;
const LAST_SYSTEM_ID = 100;

function parseIds(text: string): Map<string, number> {
  const ids = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0]) ids.set(f[0], Number(f[2]));
  }
  return ids;
}

function freeId(used: Set<number>, file: string): number {
  for (let id = FIRST_SYSTEM_ID; id >= LAST_SYSTEM_ID; id--) if (!used.has(id)) return id;
  throw new SidewalkError('IMAGE_BASE_INVALID', `${file}: no free system id between ${LAST_SYSTEM_ID} and ${FIRST_SYSTEM_ID}`);
}

async function readOrFail(path: string): Promise<string> {
  if (!existsSync(path)) throw new SidewalkError('IMAGE_BASE_INVALID', `the base root has no ${path.slice(path.lastIndexOf('/etc/') + 1)}`);
  return readFile(path, 'utf8');
}

/** Ensures the groups exist, then the user; returns the ids of every name. */
export async function ensureAccounts(rootDir: string, user: string, groups: readonly string[]): Promise<{ uid: number; gid: number; groups: Map<string, number> }> {
  const groupPath = join(rootDir, 'etc/group');
  const passwdPath = join(rootDir, 'etc/passwd');
  let groupText = await readOrFail(groupPath);
  let passwdText = await readOrFail(passwdPath);
  const gids = parseIds(groupText);
  const uids = parseIds(passwdText);
  const newGroups: string[] = [];
  for (const name of [user, ...groups]) {
    if (gids.has(name)) continue;
    const gid = freeId(new Set(gids.values()), groupPath);
    gids.set(name, gid);
    newGroups.push(name);
    groupText = `${withNewline(groupText)}${name}:x:${gid}:\n`;
  }
  // Supplementary memberships are listed in /etc/group's last field.
  groupText = groupText
    .split('\n')
    .map((line) => {
      const f = line.split(':');
      if (f.length !== 4 || !groups.includes(f[0]!)) return line;
      const members = f[3] ? f[3].split(',') : [];
      return members.includes(user) ? line : `${f.slice(0, 3).join(':')}:${[...members, user].join(',')}`;
    })
    .join('\n');
  await writeFile(groupPath, groupText);
  if (!uids.has(user)) {
    const uid = freeId(new Set(uids.values()), passwdPath);
    uids.set(user, uid);
    passwdText = `${withNewline(passwdText)}${user}:x:${uid}:${gids.get(user)!}:Sidewalk Guard:/var/lib/${user}:/usr/sbin/nologin\n`;
    await writeFile(passwdPath, passwdText);
    await appendLocked(join(rootDir, 'etc/shadow'), `${user}:!:19000::::::\n`);
  }
  for (const g of newGroups) await appendLocked(join(rootDir, 'etc/gshadow'), `${g}:!::\n`);
  return { uid: uids.get(user)!, gid: gids.get(user)!, groups: gids };
}

/** shadow/gshadow exist on real bases; a synthetic base may leave them out. */
async function appendLocked(path: string, line: string): Promise<void> {
  if (!existsSync(path)) return;
  const text = await readFile(path, 'utf8');
  await writeFile(path, `${withNewline(text)}${line}`);
}

function withNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}
