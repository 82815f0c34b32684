/** Manifest -> seccomp program, and a short human summary. */
import { buildFilter, type ArgTest, type FilterSpec } from "../bpf/build.js";
import { errnoName } from "../syscalls/errno.js";
import { syscallNumber } from "../syscalls/table.js";
import type { Manifest } from "./types.js";

export interface CompileOptions {
  /**
   * Extra syscalls to notify besides syscalls.emulate — what the enabled
   * supervisor features observe (e.g. clone, close). A syscall the manifest
   * denies or kills stays denied or killed: those are security decisions.
   */
  notify?: Iterable<string>;
  /** Syscalls notified only under an argument test (e.g. clone without CLONE_THREAD). */
  notifyIf?: ReadonlyMap<string, ArgTest>;
}

function nr(name: string): number {
  const n = syscallNumber(name);
  if (n === undefined) throw new Error(`unknown syscall "${name}"`);
  return n;
}

/** Syscall numbers per action, as the BPF generator takes them. */
export function manifestFilterSpec(m: Manifest, opts: CompileOptions = {}): FilterSpec {
  const blocked = new Set<string>([...m.syscalls.deny.keys(), ...m.syscalls.kill]);
  const notify = new Set<string>(m.syscalls.emulate);
  for (const name of opts.notify ?? []) if (!blocked.has(name)) notify.add(name);
  return {
    notify: [...notify].map(nr),
    notifyIf: new Map([...(opts.notifyIf ?? new Map<string, ArgTest>())]
      .filter(([name]) => !blocked.has(name) && !notify.has(name))
      .map(([name, c]) => [nr(name), c])),
    errno: new Map([...m.syscalls.deny].map(([name, e]) => [nr(name), e])),
    kill: m.syscalls.kill.map(nr),
  };
}

/** The seccomp program (struct sock_filter[] bytes) for a manifest. */
export function compileFilter(m: Manifest, opts: CompileOptions = {}): Uint8Array {
  return buildFilter(manifestFilterSpec(m, opts));
}

const list = (xs: readonly string[]): string => (xs.length === 0 ? "(none)" : xs.join(" "));

/** A few lines summarising what a manifest does, for `manifest check`. */
export function describeManifest(m: Manifest): string {
  const deny = [...m.syscalls.deny].map(([name, e]) => `${name}=${errnoName(e)}`);
  const lines = [
    `syscalls:   emulate ${list(m.syscalls.emulate)}`,
    `            deny ${list(deny)}`,
    `            kill ${list(m.syscalls.kill)}`,
  ];
  if (m.filesystem === null) {
    lines.push("filesystem: every path (no [filesystem] section; still inside a Landlock domain)");
  } else {
    lines.push(
      `filesystem: read ${list(m.filesystem.read)}`,
      `            write ${list(m.filesystem.write)}`,
      `            exec ${list(m.filesystem.exec)}`,
    );
  }
  const trusted = [...m.exec.trusted].map(([file, hash]) => `${file}=sha256:${hash.slice(0, 12)}…`);
  lines.push(
    `exec:       trusted ${list(trusted)}` +
      (m.exec.onlyTrusted ? "; nothing else may be executed" : ""),
  );
  const set = Object.entries(m.env.set).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  lines.push(
    `env:        ${m.env.inherit ? "inherit the caller's environment" : `only ${list(m.env.pass)}`}` +
      (set.length > 0 ? `; set ${set.join(" ")}` : ""),
    `sem:        semmsl=${m.sem.semmsl} semmns=${m.sem.semmns} semopm=${m.sem.semopm} semmni=${m.sem.semmni}`,
    `locks:      mode=${m.locks.mode} max=${m.locks.max}`,
    `process:    max=${m.process.max}`,
    `ipc:        persist=${m.ipc.persist === "" ? "off" : m.ipc.persist} namespace=${m.ipc.namespace}`,
    `proc:       views=${m.proc.views}`,
  );
  return lines.join("\n");
}
