import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REDIS_COMMANDS_USED } from '../../src/store/redis-commands';
import { aclSetUserLine } from '../support/redis-acl';

/**
 * README's ACL lines are what operators paste into Redis: they must grant
 * exactly the commands the store sends (REDIS_COMMANDS_USED), in the shape
 * every test gateway runs under (test/support/redis-acl.ts), so the two
 * cannot drift apart.
 */
const README = readFileSync(resolve(__dirname, '../../README.md'), 'utf8');

function aclSection(): string {
  const start = README.indexOf('<!-- ACL -->');
  const end = README.indexOf('<!-- /ACL -->');
  if (start < 0 || end < start) throw new Error('README has no <!-- ACL --> … <!-- /ACL --> section');
  return README.slice(start, end);
}

function lineFor(user: string): string {
  const lines = aclSection()
    .split('\n')
    .filter((line) => line.startsWith(`ACL SETUSER ${user} `));
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

const granted = (line: string): string[] =>
  line
    .split(' ')
    .filter((word) => word.startsWith('+'))
    .map((word) => word.slice(1).toUpperCase());

describe('README ACL section', () => {
  it.each([
    ['verigate-live', 'live'],
    ['verigate-sandbox', 'sandbox'],
  ] as const)('grants %s exactly REDIS_COMMANDS_USED, nothing else', (user, env) => {
    const line = lineFor(user);
    expect(granted(line).sort()).toEqual([...REDIS_COMMANDS_USED].sort());
    expect(new Set(granted(line)).size).toBe(REDIS_COMMANDS_USED.length);
    // Its own keys and channels only, every other command removed first.
    expect(line.split(' ')).toEqual(expect.arrayContaining(['resetkeys', `~vg:${env}:*`, 'resetchannels', `&vg:${env}:*`, '-@all']));
    expect(line.indexOf('-@all')).toBeLessThan(line.indexOf(' +'));
  });

  it('is, word for word, the rule set every test gateway runs under', () => {
    expect(lineFor('verigate-live')).toBe(aclSetUserLine('verigate-live', 'vg', 'live', 'PASSWORD'));
    expect(lineFor('verigate-sandbox')).toBe(aclSetUserLine('verigate-sandbox', 'vg', 'sandbox', 'PASSWORD'));
  });

  it('grants none of the commands the ACL exists to keep out', () => {
    for (const user of ['verigate-live', 'verigate-sandbox']) {
      const commands = granted(lineFor(user));
      for (const forbidden of ['KEYS', 'SCAN', 'FLUSHALL', 'FLUSHDB', 'SELECT', 'CONFIG', 'INFO', 'CLIENT', 'ACL', '@ALL']) {
        expect(commands).not.toContain(forbidden);
      }
    }
  });

  it('no longer calls the list provisional', () => {
    expect(README).not.toMatch(/provisional/i);
  });
});
