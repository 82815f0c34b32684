// The command line's grammar: every command, its options and its help text in
// one table, parsed with node:util's parseArgs. Nothing here loads the
// supervisor, so `--help` and `--version` cost little more than Node's start.
import { parseArgs } from 'node:util';

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** What a string option's value is, for the help text. */
  value?: string;
  /** The values a string option may take. */
  choices?: readonly string[];
  /** A boolean option that may also be given as --name=VALUE, one of these: its value is then that string. */
  optionalValues?: readonly string[];
  /** The command cannot run without it. */
  required?: boolean;
  describe: string;
}

interface CommandSpec {
  name: 'run' | 'learn' | 'manifest check' | 'ipcs' | 'ps' | 'waits';
  /** The positional arguments, as the help shows them. */
  operands: string;
  describe: string;
  /** Fewest and most positional arguments. */
  positionals: [number, number];
  options: Record<string, OptionSpec>;
}

const SUMMARY =
  'Run unmodified Linux programs with System V semaphores, file locks and the process lifecycle emulated by a seccomp supervisor.';

const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'run',
    operands: '-- program [args...]',
    describe: 'run a program under the supervisor',
    positionals: [0, Infinity],
    options: {
      manifest: {
        type: 'string',
        short: 'm',
        value: 'FILE',
        describe: 'policy manifest (TOML); default: built-in, same as policies/default.toml',
      },
      trace: {
        type: 'boolean',
        optionalValues: ['all'],
        describe:
          'print every notified syscall the supervisor answers, with decoded arguments and result, to stderr; --trace=all also prints the calls it continues to the kernel unchanged (<continued to the kernel>)',
      },
      'trace-file': { type: 'string', value: 'FILE', describe: 'write the trace to this file instead of stderr' },
      stats: { type: 'boolean', describe: 'print counts and p50/p99 service latency per syscall at exit' },
      'dump-state': {
        type: 'string',
        value: 'FILE',
        describe:
          'write the supervisor state as JSON to this file at exit and on a SIGUSR1 you send (default for SIGUSR1: sysvisor-PID.json in $XDG_RUNTIME_DIR/sysvisor, /run/sysvisor for root, else $TMPDIR/sysvisor-UID; ps/ipcs/waits --pid need no signal)',
      },
    },
  },
  {
    name: 'learn',
    operands: '-o FILE -- program [args...]',
    describe: 'run a program and write the least-privilege manifest for what it did',
    positionals: [0, Infinity],
    options: {
      manifest: {
        type: 'string',
        short: 'm',
        value: 'FILE',
        describe: 'manifest to learn under (env, ipc, denials carry over); default: built-in',
      },
      output: { type: 'string', short: 'o', value: 'FILE', required: true, describe: 'where to write the learned manifest' },
      merge: { type: 'boolean', describe: 'add this run to the manifest already in --output (union of paths and pins, larger limits)' },
    },
  },
  {
    name: 'manifest check',
    operands: '<file>',
    describe: 'validate a manifest and summarise it',
    positionals: [1, 1],
    options: { bpf: { type: 'boolean', describe: 'also print the seccomp program' } },
  },
  {
    name: 'ipcs',
    operands: '[file]',
    describe: 'show the semaphores of a running sandbox (--pid) or of a state dump',
    positionals: [0, 1],
    options: {
      pid: {
        type: 'string',
        value: 'PID',
        describe:
          'pid of a running `sysvisor run`, asked through its control socket (`sysvisor ps` lists them); any other pid is refused and sent nothing',
      },
    },
  },
  {
    name: 'ps',
    operands: '[file]',
    describe: 'list the running sandboxes of this user; with --pid or a state dump: its process tree, with what each holds',
    positionals: [0, 1],
    options: { pid: { type: 'string', value: 'PID', describe: 'pid of a running `sysvisor run`' } },
  },
  {
    name: 'waits',
    operands: '[file]',
    describe: 'show who waits for whom in a running sandbox (--pid) or a state dump: blocked calls, cycles, deadlock',
    positionals: [0, 1],
    options: {
      pid: { type: 'string', value: 'PID', describe: 'pid of a running `sysvisor run`' },
      format: {
        type: 'string',
        value: 'text|json|dot',
        choices: ['text', 'json', 'dot'],
        describe: 'text for a terminal, JSON (docs/WAITS.md), DOT for Graphviz; default: text',
      },
    },
  },
];

const GLOBAL: Record<string, OptionSpec> = {
  help: { type: 'boolean', describe: "show help (after a command: that command's)" },
  version: { type: 'boolean', describe: 'show the version number' },
};

/** A command line that cannot be run as given: the message says why. */
export class UsageError extends Error {}

export type CommandLine =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'command'; name: CommandSpec['name']; positionals: string[]; values: Record<string, string | boolean | undefined> };

export function parseCommandLine(argv: readonly string[]): CommandLine {
  const first = argv.at(0);
  const rest = argv.slice(1);
  if (first === undefined) throw new UsageError('give a command: run, learn, manifest check, ipcs, ps, waits');
  if (first === '--help') return { kind: 'help', text: mainHelp() };
  if (first === '--version') return { kind: 'version' };
  const sub = rest.at(0);
  if (first === 'manifest' && sub !== 'check') {
    throw new UsageError(sub === undefined ? 'give a manifest command: check' : `unknown manifest command "${sub}" (there is: check)`);
  }
  const spec = COMMANDS.find((c) => c.name === (first === 'manifest' ? 'manifest check' : first));
  if (spec === undefined) throw new UsageError(`Unknown argument: ${first}`);
  const args = first === 'manifest' ? rest.slice(1) : rest;
  const options = { ...spec.options, help: GLOBAL.help };
  const { rest: plain, given } = optionalValues(args, spec.options);
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: plain, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(programOptionHint(spec, args, options) ?? (err as Error).message);
  }
  Object.assign(parsed.values, given);
  if (parsed.values.help === true) return { kind: 'help', text: commandHelp(spec) };
  const [min, max] = spec.positionals;
  if (parsed.positionals.length < min) throw new UsageError(`sysvisor ${spec.name}: missing ${spec.operands}`);
  if (parsed.positionals.length > max) throw new UsageError(`Unknown argument: ${parsed.positionals[max]}`);
  for (const [name, o] of Object.entries(spec.options)) {
    const value = parsed.values[name];
    if (o.required && value === undefined) throw new UsageError(`Missing required argument: ${name}`);
    if (o.choices && typeof value === 'string' && !o.choices.includes(value)) {
      throw new UsageError(
        `Invalid values:\n  Argument: ${name}, Given: "${value}", Choices: ${o.choices.map((c) => `"${c}"`).join(', ')}`,
      );
    }
  }
  return { kind: 'command', name: spec.name, positionals: parsed.positionals, values: parsed.values };
}

/** Take out the --name=VALUE forms of boolean options with optionalValues (parseArgs refuses them), up to `--`. */
function optionalValues(args: readonly string[], options: Record<string, OptionSpec>): { rest: string[]; given: Record<string, string> } {
  const given: Record<string, string> = {};
  const end = args.indexOf('--');
  const rest = args.filter((arg, i) => {
    const m = /^--([^=]+)=(.*)$/.exec(arg);
    const allowed = m === null || (end >= 0 && i > end) ? undefined : options[m[1]!].optionalValues;
    if (m === null || allowed === undefined) return true;
    if (!allowed.includes(m[2]!))
      throw new UsageError(`--${m[1]}: expected --${m[1]} or ${allowed.map((v) => `--${m[1]}=${v}`).join(', ')}, got "${arg}"`);
    given[m[1]!] = m[2]!;
    return false;
  });
  return { rest, given };
}

/**
 * `sysvisor run ls -la`: an unknown option after the program's name is the
 * program's. Say that it goes after `--`, with the command line that works.
 */
function programOptionHint(spec: CommandSpec, args: readonly string[], options: Record<string, OptionSpec>): string | null {
  if (spec.positionals[1] !== Infinity) return null;
  const { tokens } = parseArgs({ args: [...args], options, allowPositionals: true, strict: false, tokens: true });
  const program = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator');
  if (program?.kind !== 'positional') return null;
  const unknown = tokens.find((t) => t.kind === 'option' && t.index > program.index && !(t.name in options));
  if (unknown?.kind !== 'option') return null;
  const fixed = ['sysvisor', spec.name, ...args.slice(0, program.index), '--', ...args.slice(program.index)].map(shellWord).join(' ');
  return `${unknown.rawName} is not an option of sysvisor ${spec.name}: options of the program go after --, as in: ${fixed}`;
}

/** A word as a shell reads it back: quoted when it holds anything but plain characters. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The value of --pid: a process id, or undefined when not given. */
export function pidOption(value: string | boolean | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (!/^[1-9][0-9]{0,9}$/.test(value)) throw new UsageError(`--pid: expected a process id, got "${value}"`);
  return Number(value);
}

const WIDTH = 80;

function mainHelp(): string {
  const commands = COMMANDS.map((c) => [`sysvisor ${c.name} ${c.operands}`, c.describe] as const);
  return (
    `Usage: sysvisor <command>\n\n${wrap(SUMMARY, WIDTH, 0)}\n\nCommands:\n${table(commands)}\nOptions:\n${table(optionRows(GLOBAL))}\n` +
    'Run `sysvisor <command> --help` for the options of a command.\n'
  );
}

function commandHelp(spec: CommandSpec): string {
  return `Usage: sysvisor ${spec.name} [options] ${spec.operands}\n\n${wrap(spec.describe, WIDTH, 0)}\n\nOptions:\n${table(optionRows({ ...spec.options, help: GLOBAL.help }))}`;
}

function optionRows(options: Record<string, OptionSpec>): Array<readonly [string, string]> {
  return Object.entries(options).map(
    ([name, o]) =>
      [
        `${o.short ? `-${o.short}, ` : ''}--${name}${o.optionalValues ? `[=${o.optionalValues.join('|')}]` : ''}${o.value ? ` ${o.value}` : ''}`,
        o.describe,
      ] as const,
  );
}

/** Two columns, the second wrapped to the width with a hanging indent. */
function table(rows: ReadonlyArray<readonly [string, string]>): string {
  const left = Math.max(...rows.map(([l]) => l.length)) + 4;
  return rows.map(([l, r]) => `  ${l.padEnd(left - 2)}${wrap(r, WIDTH, left)}\n`).join('');
}

function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.join('\n' + ' '.repeat(indent));
}
