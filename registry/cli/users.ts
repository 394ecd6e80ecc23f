// `lanyard users ...`: manage the htpasswd users and their roles from the command line.
// Works on the files directly (the running server notices the change at once).
import os from 'node:os';
import { parseArgs } from 'node:util';
import { authPaths } from '../config';
import { nowIso, type AuthEvent } from '../events/bus';
import { JsonlLog } from '../events/log';
import { RegistryPaths } from '../storage/paths';
import { isRole, isRuleRole } from '../auth/roles';
import { UserError, UserStore } from '../auth/users';
import { resolveDataDir } from '../config';

export const USERS_USAGE = `Usage: lanyard users <command> [--data DIR] [--htpasswd FILE]

  list                                  users, roles and repository rules
  add NAME [--role R] [--password-stdin]  add a user (role admin, push or pull; default push)
  passwd NAME [--password-stdin]        set a new password
  role NAME ROLE                        set the role (admin, push, pull)
  rule NAME PATTERN ROLE|-              role on repositories matching PATTERN (e.g. team/*;
                                        push, pull or none); - removes the rule
  remove NAME                           remove a user (the last admin cannot be removed)

Without --password-stdin the password is asked for on the terminal.
The htpasswd file is <data>/auth/htpasswd unless --htpasswd or REGISTRY_AUTH_HTPASSWD_PATH says otherwise.
`;

async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  const ask = (prompt: string) =>
    new Promise<string>((resolve) => {
      process.stdout.write(prompt);
      const stdin = process.stdin;
      stdin.setRawMode(true);
      stdin.resume();
      let pw = '';
      const onData = (b: Buffer) => {
        for (const ch of b.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.setRawMode(false);
            stdin.pause();
            stdin.off('data', onData);
            process.stdout.write('\n');
            return resolve(pw);
          }
          if (ch === '\u0003') process.exit(130);
          if (ch === '\u007f') pw = pw.slice(0, -1);
          else pw += ch;
        }
      };
      stdin.on('data', onData);
    });
  const a = await ask('Password: ');
  const b = await ask('Again: ');
  if (a !== b) throw new UserError('the passwords do not match');
  return a;
}

export async function usersCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      htpasswd: { type: 'string' },
      role: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, name, arg, arg2] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(USERS_USAGE);
    return cmd || values.help ? 0 : 2;
  }
  const dataDir = resolveDataDir(values.data);
  const { htpasswd } = authPaths(dataDir, values.htpasswd);
  const users = new UserStore(htpasswd);
  const by = `cli:${os.userInfo().username}`;
  const audit = (e: Omit<AuthEvent, 'type' | 'time' | 'by'>) => {
    const log = new JsonlLog(new RegistryPaths(dataDir).logsDir());
    log.write({ type: 'auth', time: nowIso(), by, ...e });
    return log.close();
  };
  const need = (v: string | undefined, what: string): string => {
    if (!v) throw new UserError(`missing ${what}\n\n${USERS_USAGE}`);
    return v;
  };
  try {
    switch (cmd) {
      case 'list': {
        const list = users.list();
        if (list.length === 0) console.log(`no users (${htpasswd})`);
        for (const u of list) {
          const rules = Object.entries(u.repos).map(([p, r]) => `${p}=${r}`).join(' ');
          console.log(`${u.name.padEnd(20)} ${u.role.padEnd(6)} ${rules}`.trimEnd());
        }
        return 0;
      }
      case 'add': {
        const n = need(name, 'NAME');
        const role = values.role ?? 'push';
        if (!isRole(role)) throw new UserError(`unknown role "${role}": use admin, push or pull`);
        const pw = await readPassword(values['password-stdin'] ?? false);
        const u = await users.add(n, pw, role);
        await audit({ action: 'user.add', user: n, detail: { role: u.role } });
        console.log(`added ${n} (${u.role})`);
        return 0;
      }
      case 'passwd': {
        const n = need(name, 'NAME');
        if (!users.exists(n)) throw new UserError(`no user "${n}"`);
        await users.passwd(n, await readPassword(values['password-stdin'] ?? false));
        await audit({ action: 'user.passwd', user: n });
        console.log(`password of ${n} changed`);
        return 0;
      }
      case 'role': {
        const n = need(name, 'NAME');
        const role = need(arg, 'ROLE');
        if (!isRole(role)) throw new UserError(`unknown role "${role}": use admin, push or pull`);
        users.setRole(n, role);
        await audit({ action: 'user.role', user: n, detail: { role } });
        console.log(`${n} is now ${role}`);
        return 0;
      }
      case 'rule': {
        const n = need(name, 'NAME');
        const pattern = need(arg, 'PATTERN');
        const role = need(arg2, 'ROLE');
        if (role !== '-' && !isRuleRole(role)) throw new UserError(`unknown role "${role}": use push, pull, none or -`);
        users.setRepoRule(n, pattern, role === '-' ? null : role);
        await audit({ action: 'user.rule', user: n, detail: { pattern, role: role === '-' ? null : role } });
        console.log(role === '-' ? `removed the rule ${pattern} of ${n}` : `${n} has ${role} on ${pattern}`);
        return 0;
      }
      case 'remove': {
        const n = need(name, 'NAME');
        users.remove(n);
        await audit({ action: 'user.remove', user: n });
        console.log(`removed ${n}`);
        return 0;
      }
      default:
        throw new UserError(`unknown users command "${cmd}"\n\n${USERS_USAGE}`);
    }
  } catch (e) {
    if (e instanceof UserError) {
      console.error(`lanyard users: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
