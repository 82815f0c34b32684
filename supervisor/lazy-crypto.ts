// node:crypto, loaded at its first use: imported, it costs every start-up
// ~6 ms of CPU and 1.6 MiB (~20 modules and OpenSSL's set-up), and most runs
// never need it (it hashes pinned executables and names temporary files).
import { createRequire } from 'node:module';

let crypto: typeof import('node:crypto') | undefined;

export function nodeCrypto(): typeof import('node:crypto') {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return crypto;
}
