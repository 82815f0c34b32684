// The supervisor's side of the launcher (shims/launcher.c): where it is, the
// environment it starts the program with, the line it answers its config
// with, the seccomp listener taken from it, and the program's output
// collected when the caller pipes it.
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import type { Manifest } from '../src/manifest/index.js';
import { close, errno, pidfdGetfd, pidfdOpen } from './ffi.js';
import { SandboxError } from './sandbox-error.js';

export const LAUNCHER = fileURLToPath(new URL('../../shims/build/sysvisor-launch', import.meta.url));

/** The program's environment: the manifest's [env] rules applied to `base`. */
export function environment(env: Manifest['env'], base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  if (env.inherit) Object.assign(out, base);
  else for (const name of env.pass) if (base[name] !== undefined) out[name] = base[name];
  Object.assign(out, env.set);
  return out;
}

/** Duplicate the listener `remoteFd` of process `pid` (the launcher, or the namespace's init); -1 when `pid` is gone. */
export function takeListener(pid: number, remoteFd: number): number {
  const pidfd = pidfdOpen(pid);
  if (pidfd < 0) return -1;
  const fd = pidfdGetfd(pidfd, remoteFd);
  const err = errno();
  close(pidfd);
  if (fd < 0) throw new SandboxError(`pidfd_getfd(launcher or init ${pid}, fd ${remoteFd}) failed: errno ${err}`);
  return fd;
}

export function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => stream.on('close', () => resolve(Buffer.concat(chunks))));
}

export async function outputs(
  stdout: Promise<Buffer> | null,
  stderr: Promise<Buffer> | null,
): Promise<{ stdout?: Buffer; stderr?: Buffer }> {
  return stdout && stderr ? { stdout: await stdout, stderr: await stderr } : {};
}

export function firstLine(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (c: Buffer) => {
      text += c.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        stream.off('data', onData);
        stream.pause();
        resolve(text.slice(0, nl));
      }
    };
    stream.on('data', onData);
    stream.once('close', () => resolve(text));
    stream.once('error', () => resolve(text));
  });
}
