/**
 * `verigate <group> <action> [options]`: parses the command line (node:util
 * parseArgs, strict per command), calls the admin API, prints, and answers
 * the exit code. The gateway's error `code` is in every refusal message, and
 * decides the exit code (EXIT_CODES).
 */
import { parseArgs } from 'node:util';
import { AdminApiError, AdminClient, type Problem } from './admin-client';
import { COMMANDS, UsageError, type Command, type Values } from './commands';

/** Exit codes, stable for scripts (README lists them). */
export const EXIT_CODES = {
  ok: 0,
  /** The gateway refused the request (invalid_request, seat limits, …) or answered unexpectedly. */
  refused: 1,
  /** A mistake on the command line, before anything was sent. */
  usage: 2,
  /** 404: no such site, user, key, token (site_not_found, …). */
  notFound: 3,
  /** 401 or 403: the token is wrong (unauthorized) or outside its scope (forbidden). */
  denied: 4,
  /** No answer, 503 or 429: the gateway or its store is unavailable, or rate limited; try again. */
  unavailable: 5,
} as const;

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:8090';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export interface CliEnvironment {
  readonly VERIGATE_ADMIN_URL?: string | undefined;
  readonly VERIGATE_ADMIN_TOKEN?: string | undefined;
}

export function exitCodeFor(problem: Pick<Problem, 'status' | 'code'>): number {
  if (problem.status === 0 || problem.status === 503 || problem.status === 429) return EXIT_CODES.unavailable;
  if (problem.status === 404) return EXIT_CODES.notFound;
  if (problem.status === 401 || problem.status === 403) return EXIT_CODES.denied;
  return EXIT_CODES.refused;
}

function usage(command?: Command): string {
  if (command) {
    const lines = Object.entries(command.options).map(([name, spec]) => {
      const flag = `--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
      return `  ${flag.padEnd(28)} ${spec.help}${spec.required ? ' (required)' : ''}${spec.multiple ? ' (repeatable)' : ''}`;
    });
    return [
      `Usage: verigate ${command.name} [options]`,
      '',
      `${command.summary[0]?.toUpperCase()}${command.summary.slice(1)}.`,
      '',
      'Options:',
      ...lines,
      `  ${'--json'.padEnd(28)} print the gateway's JSON answer (errors as problem JSON on stderr)`,
      `  ${'--help'.padEnd(28)} this help`,
    ].join('\n');
  }
  return [
    'Usage: verigate <command> [options]',
    '',
    'Administers a verigate gateway over its admin API.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(16)} ${c.summary}`),
    '',
    'Environment:',
    `  VERIGATE_ADMIN_URL    the admin listener (default ${DEFAULT_ADMIN_URL})`,
    '  VERIGATE_ADMIN_TOKEN  the root admin token, or a scoped one (vg_admin_…)',
    '',
    'Every command takes --json (machine-readable output) and --help.',
    `Exit codes: 0 done, 1 refused by the gateway, 2 usage, 3 not found, 4 unauthorized or forbidden, 5 unavailable.`,
  ].join('\n');
}

function findCommand(positionals: readonly string[]): Command | undefined {
  const name = positionals.slice(0, 2).join(' ');
  return COMMANDS.find((c) => c.name === name);
}

/**
 * Runs one command line; resolves to the exit code (never throws, never
 * calls process.exit, so tests run it in-process too).
 */
export async function runCli(argv: readonly string[], environment: CliEnvironment, io: CliIo): Promise<number> {
  const wantsJson = argv.includes('--json');
  const positionals = argv.filter((a) => !a.startsWith('-'));
  const command = findCommand(positionals);
  if (argv.length === 0 || (!command && (argv.includes('--help') || argv.includes('-h')))) {
    io.stdout(`${usage()}\n`);
    return argv.length === 0 ? EXIT_CODES.usage : EXIT_CODES.ok;
  }
  if (!command) {
    io.stderr(`verigate: unknown command ${JSON.stringify(positionals.slice(0, 2).join(' '))}\n\n${usage()}\n`);
    return EXIT_CODES.usage;
  }
  let values: Values;
  try {
    const parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(Object.entries(command.options).map(([name, spec]) => [name, { type: spec.type, multiple: spec.multiple ?? false }])),
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (parsed.positionals.length > 2) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[2])}`);
    values = parsed.values as Values;
  } catch (err) {
    io.stderr(`verigate: ${err instanceof Error ? err.message : String(err)}\n\n${usage(command)}\n`);
    return EXIT_CODES.usage;
  }
  if (values.help) {
    io.stdout(`${usage(command)}\n`);
    return EXIT_CODES.ok;
  }
  const token = environment.VERIGATE_ADMIN_TOKEN?.trim();
  if (!token) {
    io.stderr('verigate: set VERIGATE_ADMIN_TOKEN to the admin token (the root token, or a scoped vg_admin_… token)\n');
    return EXIT_CODES.usage;
  }
  const baseUrl = environment.VERIGATE_ADMIN_URL?.trim() || DEFAULT_ADMIN_URL;
  try {
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    io.stderr(`verigate: VERIGATE_ADMIN_URL must be an http(s) URL like ${DEFAULT_ADMIN_URL}, not ${JSON.stringify(baseUrl)}\n`);
    return EXIT_CODES.usage;
  }
  const client = new AdminClient({ baseUrl, token });
  try {
    const output = await command.run(client, values);
    io.stdout(wantsJson ? `${JSON.stringify(output.json, null, 2)}\n` : `${output.text}\n`);
    return EXIT_CODES.ok;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`verigate: ${err.message}\n\n${usage(command)}\n`);
      return EXIT_CODES.usage;
    }
    if (err instanceof AdminApiError) {
      if (wantsJson) io.stderr(`${JSON.stringify(err.problem, null, 2)}\n`);
      else {
        const status = err.status ? `HTTP ${err.status}, ` : '';
        const fields = (err.problem.errors ?? []).map((e) => `\n  ${e.path}: ${e.message}`).join('');
        const request = err.problem.requestId ? ` request ${err.problem.requestId}` : '';
        io.stderr(`verigate: ${err.message} (${status}${err.code}${request})${fields}\n`);
      }
      return exitCodeFor(err.problem);
    }
    io.stderr(`verigate: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_CODES.refused;
  }
}
