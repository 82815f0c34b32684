// The FUSE byte layouts (offsets from include/uapi/linux/fuse.h) and the
// single-file server behind the [proc] views, fed requests as the kernel
// encodes them.
import t from 'tap';
import {
  decodeAttrOut,
  decodeInHeader,
  encodeInHeader,
  encodeReply,
  FOPEN_DIRECT_IO,
  FOPEN_NOFLUSH,
  IN_HEADER_SIZE,
  INIT_ATOMIC_O_TRUNC,
  OP,
  OUT_HEADER_SIZE,
} from '../../src/fuse/abi.js';
import { viewDevices } from '../../src/fuse/mountinfo.js';
import { MAX_WRITE, SingleFileServer, type Caller, type ServedFile } from '../../src/fuse/single-file.js';

const CALLER = { uid: 1000, gid: 100, pid: 4242 };

/** A request: the header (len filled in) and the body. */
function request(opcode: number, body: Uint8Array = new Uint8Array(0), unique = 7n): Uint8Array {
  const header = encodeInHeader({ len: IN_HEADER_SIZE + body.length, opcode, unique, nodeid: 1n, ...CALLER });
  const b = new Uint8Array(header.length + body.length);
  b.set(header);
  b.set(body, header.length);
  return b;
}

function struct(size: number, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

const initIn = (major: number, minor: number, flags: number) =>
  struct(64, (v) => {
    v.setUint32(0, major, true);
    v.setUint32(4, minor, true);
    v.setUint32(8, 131072, true);
    v.setUint32(12, flags, true);
  });
const openIn = (flags: number) => struct(8, (v) => v.setUint32(0, flags, true));
const readIn = (fh: bigint, offset: bigint, size: number) =>
  struct(40, (v) => {
    v.setBigUint64(0, fh, true);
    v.setBigUint64(8, offset, true);
    v.setUint32(16, size, true);
  });
const writeIn = (fh: bigint, offset: bigint, data: string) => {
  const bytes = Buffer.from(data);
  const b = struct(40 + bytes.length, (v) => {
    v.setBigUint64(0, fh, true);
    v.setBigUint64(8, offset, true);
    v.setUint32(16, bytes.length, true);
  });
  b.set(bytes, 40);
  return b;
};
const releaseIn = (fh: bigint) => struct(24, (v) => v.setBigUint64(0, fh, true));
const setattrIn = (valid: number) => struct(88, (v) => v.setUint32(0, valid, true));

/** The reply's out header and payload. */
function reply(b: Uint8Array | null): { len: number; error: number; unique: bigint; payload: Uint8Array } {
  if (b === null) throw new Error('no reply');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { len: v.getUint32(0, true), error: v.getInt32(4, true), unique: v.getBigUint64(8, true), payload: b.subarray(OUT_HEADER_SIZE) };
}

const u32 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
const u64 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);

t.test('headers: the in header round-trips, the out header carries len, -errno and unique', async (t) => {
  const h = { len: 99, opcode: OP.WRITE, unique: 0x1122334455667788n, nodeid: 1n, uid: 65534, gid: 7, pid: 123456 };
  t.same(decodeInHeader(encodeInHeader(h)), h);
  t.equal(decodeInHeader(new Uint8Array(39)), null, 'shorter than a header');
  const r = reply(encodeReply(5n, -38, new Uint8Array([1, 2, 3])));
  t.same([r.len, r.error, r.unique, [...r.payload]], [19, -38, 5n, [1, 2, 3]]);
});

t.test('INIT: 7.38 at most, only ATOMIC_O_TRUNC of what the kernel offers, one page per write', async (t) => {
  const s = new SingleFileServer({ render: () => '' }, 0o444, 0);
  const r = reply(s.handle(request(OP.INIT, initIn(7, 45, 0x73fffffb))));
  t.equal(r.error, 0);
  t.equal(r.len, OUT_HEADER_SIZE + 64, 'the full fuse_init_out');
  t.same(
    [u32(r.payload, 0), u32(r.payload, 4), u32(r.payload, 8), u32(r.payload, 12), u32(r.payload, 20)],
    [7, 38, 131072, INIT_ATOMIC_O_TRUNC, MAX_WRITE],
  );
  t.equal(u32(reply(s.handle(request(OP.INIT, initIn(7, 31, 0)))).payload, 4), 31, 'an older kernel: its minor');
  t.equal(u32(reply(s.handle(request(OP.INIT, initIn(8, 0, 0)))).payload, 0), 7, 'a newer major: ours, for the kernel to retry');
  t.equal(reply(s.handle(request(OP.INIT, initIn(6, 0, 0)))).error, -71, 'an older major: EPROTO');
  t.equal(reply(s.handle(request(OP.INIT, new Uint8Array(8)))).error, -71, 'a short body');
});

t.test('GETATTR and SETATTR: a regular file of size 0 owned by root, as procfs shows it', async (t) => {
  const s = new SingleFileServer({ render: () => 'x' }, 0o644, 1_700_000_000);
  const r = reply(s.handle(request(OP.GETATTR, new Uint8Array(16))));
  t.equal(r.error, 0);
  const { validSec, attr } = decodeAttrOut(r.payload);
  t.ok(validSec > 0, 'cached by the kernel');
  t.same(attr, { ino: 1n, size: 0n, mode: 0o100644, nlink: 1, uid: 0, gid: 0, blksize: 1024, time: 1_700_000_000n });
  t.equal(reply(s.handle(request(OP.SETATTR, setattrIn(1)))).error, -1, 'chmod: EPERM');
  t.equal(reply(s.handle(request(OP.SETATTR, setattrIn(4)))).error, -1, 'chgrp: EPERM');
  t.equal(reply(s.handle(request(OP.SETATTR, setattrIn(8 | 16 | 32)))).error, 0, 'truncate and times: ignored');
});

t.test('OPEN renders a snapshot that READ slices; every open is direct I/O and never flushed', async (t) => {
  let text = 'first\n';
  let renders = 0;
  const s = new SingleFileServer({ render: () => (renders++, text) }, 0o444, 0);
  const opened = reply(s.handle(request(OP.OPEN, openIn(0))));
  t.equal(opened.error, 0);
  const fh = u64(opened.payload, 0);
  t.equal(u32(opened.payload, 8), FOPEN_DIRECT_IO | FOPEN_NOFLUSH);
  text = 'second\n';
  const read = (offset: bigint, size: number) =>
    Buffer.from(reply(s.handle(request(OP.READ, readIn(fh, offset, size)))).payload).toString();
  t.equal(read(0n, 4096), 'first\n', 'the text at open, not at read');
  t.equal(read(2n, 3), 'rst');
  t.equal(read(6n, 10), '', 'at the end');
  t.equal(read(1n << 62n, 10), '', 'far past the end');
  t.equal(renders, 1);
  const again = u64(reply(s.handle(request(OP.OPEN, openIn(0o100000)))).payload, 0);
  t.not(again, fh, 'a handle per open');
  t.equal(s.openFiles, 2);
  t.equal(reply(s.handle(request(OP.RELEASE, releaseIn(fh)))).error, 0);
  t.equal(s.openFiles, 1);
  t.equal(reply(s.handle(request(OP.READ, readIn(fh, 0n, 10)))).error, -9, 'a released handle: EBADF');
  t.equal(renders, 2);
  t.equal(
    reply(s.handle(request(OP.OPEN, openIn(1)))).error,
    -13,
    'a read-only file opened for writing: EACCES, as the notified open answers',
  );
  t.equal(reply(s.handle(request(OP.OPEN, openIn(2)))).error, -13, 'for reading and writing too');
});

t.test("WRITE: applied at once with its offset and the caller; the result is write(2)'s", async (t) => {
  const writes: Array<[string, number, Caller]> = [];
  const file: ServedFile = {
    render: () => {
      throw new Error('a write-only open rendered the text');
    },
    writeAt: (data, pos, caller) => {
      writes.push([Buffer.from(data).toString(), pos, caller]);
      return data.length === 3 ? -34 : data.length;
    },
  };
  const s = new SingleFileServer(file, 0o644, 0);
  const fh = u64(reply(s.handle(request(OP.OPEN, openIn(1)))).payload, 0);
  t.equal(s.openFiles, 1, 'a write-only open (it renders nothing)');
  const ok = reply(s.handle(request(OP.WRITE, writeIn(fh, 0n, '250 32000 32 128\n'))));
  t.same([ok.error, u32(ok.payload, 0)], [0, 17]);
  t.equal(reply(s.handle(request(OP.WRITE, writeIn(fh, 17n, 'bad')))).error, -34, 'an error reaches write(2)');
  t.same(writes, [
    ['250 32000 32 128\n', 0, CALLER],
    ['bad', 17, CALLER],
  ]);
  t.equal(reply(s.handle(request(OP.WRITE, writeIn(99n, 0n, 'x')))).error, -9, 'unknown handle: EBADF');
  const truncated = writeIn(fh, 0n, 'abcdef').subarray(0, 42);
  const r = request(OP.WRITE, truncated);
  t.equal(reply(s.handle(r)).error, -5, 'data shorter than its size: EIO');
});

t.test('the rest: no reply where the kernel expects none, ENOSYS or ENOTTY as procfs answers, EIO for a bad length', async (t) => {
  const s = new SingleFileServer({ render: () => '' }, 0o444, 0);
  for (const op of [OP.FORGET, OP.BATCH_FORGET, OP.INTERRUPT]) t.equal(s.handle(request(op, new Uint8Array(16))), null, `op ${op}`);
  for (const op of [OP.FLUSH, OP.ACCESS, OP.DESTROY]) t.equal(reply(s.handle(request(op, new Uint8Array(24)))).error, 0, `op ${op}`);
  t.equal(reply(s.handle(request(OP.IOCTL, new Uint8Array(32)))).error, -25);
  for (const op of [OP.GETXATTR, OP.LISTXATTR, OP.LOOKUP, 9999])
    t.equal(reply(s.handle(request(op, new Uint8Array(8)))).error, -38, `op ${op}`);
  const statfs = reply(s.handle(request(OP.STATFS)));
  t.same([statfs.error, u32(statfs.payload, 40), u32(statfs.payload, 44)], [0, 4096, 255]);
  const lying = request(OP.GETATTR, new Uint8Array(16));
  new DataView(lying.buffer).setUint32(0, 10, true);
  t.equal(reply(s.handle(lying)).error, -5, 'a header whose length is not what was read');
  t.equal(s.handle(new Uint8Array(12)), null, 'not even a header');
  t.equal(reply(s.handle(request(OP.OPEN, new Uint8Array(4)))).error, -5, 'a short OPEN');
  t.equal(reply(s.handle(request(OP.READ, new Uint8Array(4)))).error, -5, 'a short READ');
  t.equal(reply(s.handle(request(OP.RELEASE, new Uint8Array(4)))).error, -5, 'a short RELEASE');
  t.equal(reply(s.handle(request(OP.SETATTR, new Uint8Array(4)))).error, -5, 'a short SETATTR');
});

t.test('viewDevices: the fuse.sysvisor mounts of a mountinfo text', async (t) => {
  const text = [
    '49 30 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:14 - proc proc rw',
    '67 49 0:41 / /proc/sysvipc/sem rw,nosuid,nodev,noexec,relatime - fuse.sysvisor sysvisor rw,user_id=0,group_id=0',
    '68 49 0:42 / /proc/sys/kernel/sem rw,relatime master:3 - fuse.sysvisor sysvisor rw',
    '70 30 0:50 / /mnt rw - fuse.sshfs host:/ rw',
    '',
  ].join('\n');
  t.same(viewDevices(text), ['0:41', '0:42']);
  t.same(viewDevices(''), []);
});
