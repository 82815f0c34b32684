/*
 * semfuzz SEED N [PARTS] - random and adversarial System V semaphore (and,
 * with 'l', file lock) calls, for comparing sysvisor with the kernel.
 *
 * PARTS is a string of letters (default "dc"):
 *   d  deterministic part: N calls from one process (plus short-lived helper
 *      children whose results are relayed), one output line per call with
 *      the result or the errno *name*. Ids, pids, keys and addresses are
 *      never printed: sets are named by slot ("s2"), pids by relation.
 *      The same SEED gives the same calls natively and under sysvisor, so
 *      the two outputs must be byte-identical.
 *   c  nondeterministic part: several processes and threads run random
 *      calls on shared sets while the parent SIGKILLs, stops and signals
 *      them; the only output is the invariants checked at the end (no
 *      sleeper left once everybody is dead, values in range).
 *   l  add fcntl/flock calls to both parts (run with fcntl/flock emulated).
 *   n  the native run is alone in a fresh IPC namespace (the harness runs it
 *      under unshare --ipc): ids, indexes and IPC_INFO/SEM_INFO results are
 *      printed raw, and random ids are tried.
 *   w  in the deterministic part, 30% of the steps put several children to
 *      sleep on one set and record who wakes after each change (op_multi).
 *
 * If the environment has SEMFUZZ_HOLD=1, the chaos part stops after it has
 * reaped its workers and before it removes its sets, prints
 * "chaos: holding", and reads one byte from stdin: a harness can take a
 * state dump at that point. Natively stdin is empty and nothing waits.
 *
 * Only IPC_PRIVATE sets and keys derived from SEED and the pid are used;
 * every set is removed at the end (also on a harness failure).
 */
#include "../c/common.h"
#include <pthread.h>
#include <sys/file.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#endif
#define IPC_64_ 0x100
#ifndef LOCK_MAND
#define LOCK_MAND 32
#endif

/* ---------- random numbers (splitmix64: the same sequence everywhere) ---------- */

static uint64_t rng;

static uint64_t rnd64(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t rn(uint32_t n) { return n ? (uint32_t)(rnd64() % n) : 0; }
static int chance(int pct) { return (int)rn(100) < pct; }
#define PICK(arr) ((arr)[rn(sizeof(arr) / sizeof((arr)[0]))])

/* ---------- raw syscalls: the fuzzer controls every bit of every argument ---------- */

static long sys_semget(long key, long nsems, long flg) { return syscall(SYS_semget, key, nsems, flg); }
static long sys_semop(long id, uint64_t sops, uint64_t nsops) { return syscall(SYS_semop, id, sops, nsops); }
static long sys_semtimedop(long id, uint64_t sops, uint64_t nsops, uint64_t ts)
{
	return syscall(SYS_semtimedop, id, sops, nsops, ts);
}
static long sys_semctl(long id, long num, long cmd, uint64_t arg) { return syscall(SYS_semctl, id, num, cmd, arg); }

/* ---------- memory with holes ---------- */

static long PG;
static char *rw;	/* 32 pages, read-write */
static char *strad;	/* a read-write page; strad + PG is unmapped */
static char *ro;	/* read-only page */
static char *noacc;	/* PROT_NONE page */
static unsigned short *hbuf; /* harness buffer for GETALL (64 Ki values) */

enum { PK_GOOD, PK_MISALIGN, PK_NULL, PK_UNMAPPED, PK_STRADDLE, PK_RO, PK_NONE, PK_KERNEL, PK_NONCANON,
       PK_NEG1, PK_HIGH, PK_ONE, PK_COUNT };
static const char *pkname[PK_COUNT] = { "good", "misalign", "null", "unmapped", "straddle", "ro", "none",
					"kernel", "noncanon", "neg1", "high", "one" };

static void map_regions(void)
{
	PG = sysconf(_SC_PAGESIZE);
	rw = mmap(NULL, 32 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *r = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rw == MAP_FAILED || r == MAP_FAILED)
		die("mmap");
	strad = r;
	TRY(munmap(r + PG, PG));
	ro = r + 2 * PG;
	noacc = r + 3 * PG;
	TRY(mprotect(ro, PG, PROT_READ));
	TRY(mprotect(noacc, PG, PROT_NONE));
	hbuf = malloc(65536 * sizeof *hbuf);
	if (!hbuf)
		die("malloc");
}

/* Mostly good pointers; the rest spread over the bad kinds. */
static int pick_kind(void)
{
	if (chance(65))
		return chance(90) ? PK_GOOD : PK_MISALIGN;
	return (int)rn(PK_COUNT - 2) + 2;
}

/*
 * A pointer of this kind to len bytes; for input (data != NULL) the bytes
 * are stored wherever the pointer can reach.
 */
static uint64_t place2(int kind, const void *data, size_t len, int area)
{
	char *p;
	size_t fit = len;
	char *base = rw + area * 16 * PG;
	switch (kind) {
	case PK_GOOD: p = base; break;
	case PK_MISALIGN: p = base + 1 + rn(7); break;
	case PK_STRADDLE: {
		size_t before = len >= 2 ? len / 2 : 1;
		if (before > (size_t)PG)
			before = (size_t)PG;
		p = strad + PG - before;
		fit = before < len ? before : len;
		break;
	}
	case PK_RO:
		TRY(mprotect(ro, PG, PROT_READ | PROT_WRITE));
		if (data)
			memcpy(ro, data, len < (size_t)PG ? len : (size_t)PG);
		TRY(mprotect(ro, PG, PROT_READ));
		return (uint64_t)(uintptr_t)ro;
	case PK_NULL: return 0;
	case PK_UNMAPPED: return (uint64_t)(uintptr_t)(strad + PG + 8 * rn(64));
	case PK_NONE: return (uint64_t)(uintptr_t)noacc;
	case PK_KERNEL: return 0xffff888000000000ULL + 8 * rn(4096);
	case PK_NONCANON: return 0x0000800000000000ULL;
	case PK_NEG1: return ~0ULL;
	case PK_HIGH: return 0xfffffffffffff000ULL;
	case PK_ONE: return 1 + rn(4095);
	default: die("kind %d", kind);
	}
	if (data && fit)
		memcpy(p, data, fit);
	return (uint64_t)(uintptr_t)p;
}

static uint64_t place(int kind, const void *data, size_t len) { return place2(kind, data, len, 0); }

/* ---------- the slot table: sets by small index, never by id ---------- */

#define NSLOT 6
#define NSTALE 8
struct slot {
	int id;		/* -1: free */
	int nsems;
	int key;	/* index into keys[], -1 for IPC_PRIVATE */
};
static struct slot slots[NSLOT];
static int stale[NSTALE];
static int nstale;
static key_t keys[4];
static long lim_semmsl, lim_semopm;
static pid_t self;

static int slot_of(int id)
{
	for (int i = 0; i < NSLOT; i++)
		if (slots[i].id == id)
			return i;
	return -1;
}

static int keyidx(key_t k)
{
	for (int i = 0; i < 4; i++)
		if (keys[i] == k)
			return i;
	return -1;
}

static int live_slot(void)
{
	int cand[NSLOT], n = 0;
	for (int i = 0; i < NSLOT; i++)
		if (slots[i].id >= 0)
			cand[n++] = i;
	return n ? cand[rn(n)] : -1;
}

static void make_stale(int s)
{
	untrack_set(slots[s].id);
	stale[nstale++ % NSTALE] = slots[s].id;
	slots[s].id = -1;
}

/* After anything that may have removed sets behind our back: drop slots whose id is gone. */
static void revalidate(void)
{
	struct semid_ds ds;
	for (int i = 0; i < NSLOT; i++) {
		if (slots[i].id < 0)
			continue;
		union semun a = { .buf = &ds };
		if (semctl(slots[i].id, 0, IPC_STAT, a) < 0) {
			if (errno != EINVAL && errno != EIDRM)
				die("revalidate IPC_STAT");
			make_stale(i);
		}
	}
}

static void remove_all(void)
{
	for (int i = 0; i < NSLOT; i++)
		if (slots[i].id >= 0) {
			semctl(slots[i].id, 0, IPC_RMID);
			untrack_set(slots[i].id);
			slots[i].id = -1;
		}
}

/* "v=1,0,3" for a slot (harness read, not printed as a call), or a hash for big sets. */
static const char *digest(int s)
{
	static char b[160];
	if (s < 0 || slots[s].id < 0)
		return "";
	union semun a = { .array = hbuf };
	if (semctl(slots[s].id, 0, GETALL, a) < 0) {
		snprintf(b, sizeof b, " (s%d GETALL %s)", s, errname(errno));
		return b;
	}
	int n = slots[s].nsems;
	if (n <= 8) {
		int o = snprintf(b, sizeof b, " s%d=", s);
		for (int i = 0; i < n; i++)
			o += snprintf(b + o, sizeof b - o, "%s%d", i ? "," : "", hbuf[i]);
	} else {
		uint64_t h = 1469598103934665603ULL;
		for (int i = 0; i < n; i++)
			h = (h ^ hbuf[i]) * 1099511628211ULL;
		snprintf(b, sizeof b, " s%d#%016llx", s, (unsigned long long)h);
	}
	return b;
}

/* ---------- id choices ---------- */

enum { ID_SLOT, ID_STALE, ID_NEG1, ID_INTMIN, ID_FARSEQ, ID_NOIDX, ID_COUNT, ID_RANDOM };

/*
 * 'n': the native run is alone in a fresh IPC namespace (unshare --ipc),
 * like the sandbox's registry at start. Then ids, indexes and the values
 * IPC_INFO/SEM_INFO return are the same in both runs and are printed, and
 * random ids and indexes may be tried.
 */
static int exact;

/*
 * A semid and its description. stat: the call takes a table index
 * (SEM_STAT*): stale ids are left out, their index may belong to a set
 * another program on the host created since. Random ids are never used,
 * natively they could name a foreign set.
 */
static int pick_id(char *desc, size_t dsz, int *slotp, int stat)
{
	int s = live_slot();
	*slotp = -1;
	int k = chance(75) ? ID_SLOT : (int)rn(ID_COUNT);
	if (exact && chance(10))
		k = ID_RANDOM;
	if (k == ID_STALE && (stat || nstale == 0))
		k = ID_NEG1;
	if ((k == ID_SLOT || k == ID_FARSEQ || k == ID_NOIDX) && s < 0)
		k = ID_INTMIN;
	switch (k) {
	case ID_SLOT:
		*slotp = s;
		snprintf(desc, dsz, "s%d", s);
		return slots[s].id;
	case ID_STALE: {
		int i = (int)rn(nstale < NSTALE ? nstale : NSTALE);
		snprintf(desc, dsz, "stale%d", (nstale - 1 - i + NSTALE) % NSTALE);
		return stale[i];
	}
	case ID_NEG1: snprintf(desc, dsz, "-1"); return -1;
	case ID_INTMIN: snprintf(desc, dsz, "INT_MIN"); return INT_MIN;
	case ID_FARSEQ:
		/* same index, a sequence number nobody reaches: only SEM_STAT* find the set */
		*slotp = stat ? s : -1;
		snprintf(desc, dsz, "s%d^seq", s);
		return slots[s].id ^ (1 << 27);
	case ID_RANDOM: {
		/* a small index, a plausible id (seq 0..3), or anything */
		int c = (int)rn(3);
		int v = c == 0 ? (int)rn(64) : c == 1 ? (int)rn(4) * 32768 + (int)rn(64) : (int)(rnd64() & 0x7fffffff);
		snprintf(desc, dsz, "%d", v);
		*slotp = slot_of(v);
		if (stat && *slotp < 0) {
			for (int i = 0; i < NSLOT; i++)
				if (slots[i].id >= 0 && (slots[i].id & 0x7fff) == (v & 0x7fff))
					*slotp = i;
		}
		return v;
	}
	default:
		snprintf(desc, dsz, "s%d+noidx", s);
		return (slots[s].id & ~0x7fff) | 0x4000 | (slots[s].id & 0x3fff);
	}
}

static const char *idname(long r)
{
	static char b[48];
	int s = slot_of((int)r);
	if (s >= 0 && exact)
		snprintf(b, sizeof b, "=s%d id=%ld", s, r);
	else if (s >= 0)
		snprintf(b, sizeof b, "=s%d", s);
	else
		snprintf(b, sizeof b, "=foreign");
	return b;
}

/* ---------- output ---------- */

static int step;

__attribute__((format(printf, 2, 3)))
static void line(long r, const char *fmt, ...)
{
	char buf[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	printf("%d %s\n", step, buf);
	(void)r;
}

/* ---------- signals: a ticker child interrupts calls known to block ---------- */

static volatile sig_atomic_t ticks;
/* op_signal: the first signal's handler may itself make a semop (hop), which would satisfy the interrupted one */
static int hop_id = -1;
static struct sembuf hop;
static volatile long hop_res;
static volatile int hop_errno;

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
	if (hop_id >= 0) {
		int saved = errno;
		int id = hop_id;
		hop_id = -1;
		hop_res = semop(id, &hop, 1);
		hop_errno = hop_res < 0 ? errno : 0;
		errno = saved;
	}
}

static void handler(int sig, int restart)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_tick;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(sig, &sa, NULL);
}

/*
 * A child that sends SIGUSR1 to us every 15 ms until killed; with stop,
 * first a SIGSTOP and a SIGCONT. However late the first signal comes, a
 * call that blocks ends with EINTR.
 */
static pid_t ticker(int stop)
{
	pid_t parent = getpid();
	pid_t p = xfork();
	if (p == 0) {
		msleep(10);
		if (stop) {
			kill(parent, SIGSTOP);
			msleep(10);
			kill(parent, SIGCONT);
		}
		for (;;) {
			msleep(15);
			if (kill(parent, SIGUSR1) < 0)
				_exit(0);
		}
	}
	return p;
}

static void stop_ticker(pid_t p)
{
	kill(p, SIGKILL);
	reap(p);
}

/* ---------- semget ---------- */

static void op_semget(void)
{
	long key;
	char kd[16];
	if (chance(40)) {
		key = IPC_PRIVATE;
		snprintf(kd, sizeof kd, "private");
	} else {
		int k = (int)rn(4);
		key = keys[k];
		snprintf(kd, sizeof kd, "k%d", k);
		if (chance(5))
			key |= (long)rnd64() << 32; /* key_t is an int: the high half is ignored */
	}
	long nsems;
	int c = (int)rn(20);
	if (c < 12)
		nsems = 1 + rn(6);
	else if (c == 12)
		nsems = 0;
	else if (c == 13)
		nsems = lim_semmsl;
	else if (c == 14)
		nsems = lim_semmsl + 1;
	else if (c == 15)
		nsems = -1;
	else if (c == 16)
		nsems = INT_MAX;
	else if (c == 17)
		nsems = 250 + rn(300);
	else if (c == 18)
		nsems = (long)(0x100000000ULL | (1 + rn(4))); /* int: high half ignored */
	else
		nsems = 1 + rn(64);
	long flg = rn(0777 + 1);
	if (chance(80))
		flg |= IPC_CREAT;
	if (chance(25))
		flg |= IPC_EXCL;
	if (chance(10))
		flg |= (long)(rnd64() & 0xfffff000);
	if (chance(10))
		flg = (long)rnd64();
	errno = 0;
	long r = sys_semget(key, nsems, flg);
	int e = errno;
	char rest[96] = "";
	if (r >= 0) {
		int s = slot_of((int)r);
		if (s >= 0) {
			snprintf(rest, sizeof rest, "=s%d", s);
		} else {
			struct semid_ds ds;
			union semun a = { .buf = &ds };
			if (semctl((int)r, 0, IPC_STAT, a) < 0)
				die("IPC_STAT of a new set");
			int fr = -1;
			for (int i = 0; i < NSLOT && fr < 0; i++)
				if (slots[i].id < 0)
					fr = i;
			if (fr < 0) {
				/* table full: the set goes at once */
				if (semctl((int)r, 0, IPC_RMID) < 0)
					die("IPC_RMID of an extra set");
				snprintf(rest, sizeof rest, "=new nsems=%lu mode=%o (no slot, removed)",
					 (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);
			} else {
				slots[fr] = (struct slot){ .id = (int)r, .nsems = (int)ds.sem_nsems,
							   .key = keyidx(ds.sem_perm.__key) };
				track_set((int)r); /* die() removes it */
				snprintf(rest, sizeof rest, "=s%d new nsems=%lu mode=%o", fr,
					 (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);
				if (exact)
					snprintf(rest + strlen(rest), sizeof rest - strlen(rest), " id=%ld", r);
			}
		}
	}
	line(r, "semget(%s, %ld, %#lx) = %s%s", kd, nsems, (unsigned long)flg, r >= 0 ? "" : res(r, e), rest);
}

/* ---------- semop / semtimedop ---------- */

struct sbuf {
	unsigned short num;
	short op;
	short flg;
};

static short pick_semop_val(void)
{
	int c = (int)rn(20);
	if (c < 14)
		return (short)((int)rn(5) - 2);
	if (c == 14)
		return 32767;
	if (c == 15)
		return -32768;
	if (c == 16)
		return (short)((int)rn(201) - 100);
	return (short)rnd64();
}

static short pick_flg(void)
{
	static const short f[] = { 0, IPC_NOWAIT, SEM_UNDO, IPC_NOWAIT | SEM_UNDO };
	if (chance(8))
		return (short)rnd64();
	return PICK(f);
}

/* Timeouts: the value, whether a sleep under it ends by itself soon, and a name. */
struct tkind {
	long sec, nsec;
	int short_wait; /* 1: a blocked call ends soon by timeout; 0: it must not block */
	const char *name;
};
static const struct tkind tkinds[] = {
	{ 0, 0, 1, "{0,0}" }, { 0, 1, 1, "{0,1}" }, { 0, 1000000, 1, "{0,1ms}" }, { 0, 3000000, 1, "{0,3ms}" },
	{ -1, 0, 1, "{-1,0}" }, { 0, -1, 1, "{0,-1}" }, { 0, 1000000000, 1, "{0,1e9}" }, { 5, 0, 0, "{5,0}" },
	{ LONG_MAX, 999999999, 0, "{max,max}" }, { LONG_MIN, 0, 1, "{min,0}" },
};

static void op_semop(void)
{
	char idd[32];
	int s;
	int id = pick_id(idd, sizeof idd, &s, 0);
	int nsems = s >= 0 ? slots[s].nsems : 4;
	int timed = chance(50);
	/* nsops */
	uint64_t nsops;
	int c = (int)rn(24);
	if (c < 14)
		nsops = 1 + rn(3);
	else if (c == 14)
		nsops = 0;
	else if (c == 15)
		nsops = (uint64_t)lim_semopm;
	else if (c == 16)
		nsops = (uint64_t)lim_semopm + 1;
	else if (c == 17)
		nsops = (1ULL << 32) + 1;
	else if (c == 18)
		nsops = 1ULL << 32;
	else if (c == 19)
		nsops = 0xffffffffULL;
	else if (c == 20)
		nsops = 65536;
	else if (c == 21)
		nsops = rnd64();
	else
		nsops = 4 + rn(12);
	uint32_t n32 = (uint32_t)nsops;
	uint32_t nb = n32 <= (uint32_t)lim_semopm ? n32 : 4;
	static struct sbuf ops[1024];
	for (uint32_t i = 0; i < nb; i++) {
		int cc = (int)rn(20);
		ops[i].num = cc < 16 ? (unsigned short)rn(nsems) : cc == 16 ? (unsigned short)nsems
			     : cc == 17 ? 65535 : (unsigned short)rnd64();
		ops[i].op = pick_semop_val();
		ops[i].flg = pick_flg();
	}
	/* timeout */
	const struct tkind *tk = NULL;
	int tkind = -1;
	uint64_t tptr = 0;
	int may_sleep = 0;
	if (timed && chance(85)) {
		tk = &tkinds[rn(sizeof tkinds / sizeof tkinds[0])];
		struct timespec ts = { .tv_sec = tk->sec, .tv_nsec = tk->nsec };
		tkind = chance(85) ? PK_GOOD : pick_kind();
		tptr = place2(tkind, &ts, sizeof ts, 1);
		may_sleep = tk->short_wait && tptr != 0; /* a NULL timeout is no timeout */
	}
	if (!may_sleep)
		for (uint32_t i = 0; i < nb; i++)
			ops[i].flg |= IPC_NOWAIT;
	int okind = chance(85) ? PK_GOOD : pick_kind();
	uint64_t optr = place(okind, ops, nb * sizeof ops[0]);
	errno = 0;
	long r = timed ? sys_semtimedop(id, optr, nsops, tptr) : sys_semop(id, optr, nsops);
	int e = errno;
	char od[200];
	int o = 0;
	od[0] = 0;
	for (uint32_t i = 0; i < nb && i < 4; i++)
		o += snprintf(od + o, sizeof od - o, "%s%u:%d:%#x", i ? " " : "", ops[i].num, ops[i].op,
			      (unsigned)(unsigned short)ops[i].flg);
	if (nb > 4)
		snprintf(od + o, sizeof od - o, " ...");
	char td[48] = "";
	if (timed)
		snprintf(td, sizeof td, ", %s%s%s", tk ? pkname[tkind] : "NULL", tk ? ":" : "", tk ? tk->name : "");
	line(r, "%s(%s, %s[%s], %#llx%s) = %s%s", timed ? "semtimedop" : "semop", idd, pkname[okind], od,
	     (unsigned long long)nsops, td, res(r, e), r == 0 ? digest(s) : "");
}

/* ---------- semctl ---------- */

static const char *cmdname(int cmd)
{
	static char b[24];
	static const char *const n[] = { [0] = "IPC_RMID", [1] = "IPC_SET", [2] = "IPC_STAT", [3] = "IPC_INFO",
					 [11] = "GETPID", [12] = "GETVAL", [13] = "GETALL", [14] = "GETNCNT",
					 [15] = "GETZCNT", [16] = "SETVAL", [17] = "SETALL", [18] = "SEM_STAT",
					 [19] = "SEM_INFO", [20] = "SEM_STAT_ANY" };
	if (cmd >= 0 && cmd <= 20 && n[cmd])
		return n[cmd];
	snprintf(b, sizeof b, "cmd%#x", (unsigned)cmd);
	return b;
}

static void print_semid_ds(char *b, size_t sz, const struct semid_ds *ds)
{
	key_t k = ds->sem_perm.__key;
	int ki = keyidx(k);
	char kd[16];
	if (k == IPC_PRIVATE)
		snprintf(kd, sizeof kd, "private");
	else if (ki >= 0)
		snprintf(kd, sizeof kd, "k%d", ki);
	else
		snprintf(kd, sizeof kd, "foreign");
	snprintf(b, sz, " {key=%s uid=%u gid=%u cuid=%u cgid=%u mode=%#o nsems=%lu otime=%s}",
		 kd, ds->sem_perm.uid, ds->sem_perm.gid, ds->sem_perm.cuid, ds->sem_perm.cgid,
		 ds->sem_perm.mode, (unsigned long)ds->sem_nsems, ds->sem_otime ? "set" : "0");
}

static void op_semctl(void)
{
	static const int known[] = { 0, 1, 2, 3, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
	int cmd;
	int c = (int)rn(20);
	if (c < 15)
		cmd = PICK(known);
	else if (c == 15)
		cmd = PICK(known) | IPC_64_;
	else if (c == 16)
		cmd = 4 + (int)rn(7);
	else if (c == 17)
		cmd = 21 + (int)rn(10);
	else if (c == 18)
		cmd = -1;
	else
		cmd = (int)rnd64();
	/* IPC_RMID rarely, or the table is always empty */
	if (cmd == IPC_RMID && chance(60))
		cmd = GETVAL;
	int stat = cmd == SEM_STAT || cmd == SEM_STAT_ANY;
	char idd[32];
	int s;
	int id = pick_id(idd, sizeof idd, &s, stat);
	int nsems = s >= 0 ? slots[s].nsems : 4;
	long semnum;
	c = (int)rn(20);
	if (c < 15)
		semnum = rn(nsems);
	else if (c == 15)
		semnum = nsems;
	else if (c == 16)
		semnum = -1;
	else if (c == 17)
		semnum = INT_MIN;
	else if (c == 18)
		semnum = 65536;
	else
		semnum = (long)(int)rnd64();
	uint64_t arg = 0;
	int kind = -1;
	char ad[64] = "";
	switch (cmd & ~IPC_64_) {
	case SETVAL: {
		c = (int)rn(20);
		if (c < 12)
			arg = rn(4);
		else if (c == 12)
			arg = 32767;
		else if (c == 13)
			arg = 32768;
		else if (c == 14)
			arg = (uint64_t)-1;
		else if (c == 15)
			arg = 0x100000001ULL; /* int val = 1 */
		else if (c == 16)
			arg = 0x10001;
		else if (c == 17)
			arg = 0x80000000ULL;
		else
			arg = rnd64();
		snprintf(ad, sizeof ad, "%#llx", (unsigned long long)arg);
		break;
	}
	case IPC_SET: {
		struct semid_ds ds;
		memset(&ds, 0, sizeof ds);
		static const unsigned ids[] = { 0, 0, 0, 65534, (unsigned)-1, 1000 };
		ds.sem_perm.uid = PICK(ids);
		ds.sem_perm.gid = PICK(ids);
		ds.sem_perm.mode = chance(80) ? 0600 | rn(0200) : (unsigned short)rnd64();
		/* keep the set usable by the fuzzer, which is root: nothing to keep */
		kind = pick_kind();
		arg = place(kind, &ds, sizeof ds);
		snprintf(ad, sizeof ad, "%s:{uid=%u gid=%u mode=%#o}", pkname[kind], ds.sem_perm.uid, ds.sem_perm.gid,
			 ds.sem_perm.mode);
		break;
	}
	case SETALL: {
		static unsigned short vals[65536];
		int n = nsems;
		for (int i = 0; i < n; i++)
			vals[i] = chance(97) ? (unsigned short)rn(4) : (unsigned short)rnd64();
		kind = pick_kind();
		arg = place(kind, vals, n * sizeof vals[0]);
		snprintf(ad, sizeof ad, "%s", pkname[kind]);
		break;
	}
	case IPC_STAT: case SEM_STAT: case SEM_STAT_ANY: case IPC_INFO: case SEM_INFO: case GETALL:
		kind = pick_kind();
		arg = place(kind, NULL, 0);
		if (kind == PK_STRADDLE) {
			size_t len = (cmd & ~IPC_64_) == GETALL ? 2 * (size_t)nsems : 104;
			size_t before = len >= 2 ? len / 2 : 1;
			arg = (uint64_t)(uintptr_t)(strad + PG - (before > (size_t)PG ? (size_t)PG : before));
		}
		if (kind == PK_GOOD || kind == PK_MISALIGN) {
			size_t len = 2 * (size_t)nsems + 128;
			memset((void *)(uintptr_t)arg, 0xa5, len < (size_t)(16 * PG - 8) ? len : (size_t)(16 * PG - 8));
		}
		snprintf(ad, sizeof ad, "%s", pkname[kind]);
		break;
	default:
		if (chance(50)) {
			kind = pick_kind();
			arg = place(kind, NULL, 0);
			snprintf(ad, sizeof ad, "%s", pkname[kind]);
		} else {
			arg = rnd64();
			snprintf(ad, sizeof ad, "junk");
		}
	}
	errno = 0;
	long r = sys_semctl(id, semnum, cmd, arg);
	int e = errno;
	char out[200] = "";
	int good = kind == PK_GOOD || kind == PK_MISALIGN;
	const char *rv = res(r, e);
	if (r >= 0) {
		switch (cmd) {
		case IPC_STAT:
			if (good)
				print_semid_ds(out, sizeof out, (struct semid_ds *)(uintptr_t)arg);
			break;
		case SEM_STAT: case SEM_STAT_ANY:
			rv = idname(r);
			if (good)
				print_semid_ds(out, sizeof out, (struct semid_ds *)(uintptr_t)arg);
			break;
		case IPC_INFO: case SEM_INFO:
			/* the highest index in use: host-wide natively, so only "ok" unless alone in a namespace */
			rv = exact ? res(r, 0) : "ok";
			if (good && exact) {
				struct seminfo *si = (struct seminfo *)(uintptr_t)arg;
				snprintf(out, sizeof out, " {map=%d mni=%d mns=%d mnu=%d msl=%d opm=%d ume=%d usz=%d vmx=%d aem=%d}",
					 si->semmap, si->semmni, si->semmns, si->semmnu, si->semmsl, si->semopm, si->semume,
					 si->semusz, si->semvmx, si->semaem);
			} else if (good) {
				struct seminfo *si = (struct seminfo *)(uintptr_t)arg;
				if (cmd == IPC_INFO)
					snprintf(out, sizeof out, " {msl=%d mns=%d opm=%d mni=%d vmx=%d aem=%d usz=%d}",
						 si->semmsl, si->semmns, si->semopm, si->semmni, si->semvmx, si->semaem,
						 si->semusz);
				else
					snprintf(out, sizeof out, " {msl=%d opm=%d mni=%d vmx=%d}", si->semmsl,
						 si->semopm, si->semmni, si->semvmx);
			}
			break;
		case GETPID:
			rv = r == 0 ? "0" : r == self ? "self" : "other";
			break;
		case GETALL:
			if (good && s >= 0) {
				unsigned short *v = (unsigned short *)(uintptr_t)arg;
				int o = snprintf(out, sizeof out, " [");
				for (int i = 0; i < nsems && i < 8; i++)
					o += snprintf(out + o, sizeof out - o, "%s%d", i ? "," : "", v[i]);
				snprintf(out + o, sizeof out - o, "%s] guard=%s", nsems > 8 ? ",..." : "",
					 ((unsigned char *)v)[2 * nsems] == 0xa5 ? "ok" : "overwritten");
			}
			break;
		case IPC_RMID:
			if (s >= 0)
				make_stale(s);
			break;
		default:
			if (cmd == SETVAL || cmd == SETALL || cmd == IPC_SET)
				snprintf(out, sizeof out, "%s", digest(s));
		}
	}
	line(r, "semctl(%s, %ld, %s, %s) = %s%s", idd, semnum, cmdname(cmd), ad, rv, out);
	if (cmd == IPC_RMID && r == 0 && s < 0)
		revalidate(); /* a stale or mangled id named a live set: should not happen */
}

/* ---------- helper children ---------- */

/* A child that runs as nobody and tries one thing on a set. */
static void op_nobody(void)
{
	int s = live_slot();
	if (s < 0)
		return;
	int id = slots[s].id;
	int what = (int)rn(7);
	int fd[2];
	xpipe(fd);
	pid_t p = xfork();
	if (p == 0) {
		close(fd[0]);
		drop_privs();
		struct semid_ds ds;
		union semun a = { .buf = &ds };
		switch (what) {
		case 0: RCHECK(fd[1], "GETVAL", semctl(id, 0, GETVAL)); break;
		case 1: RCHECK(fd[1], "SETVAL", semctl(id, 0, SETVAL, (union semun){ .val = 1 })); break;
		case 2: RCHECK(fd[1], "IPC_STAT", semctl(id, 0, IPC_STAT, a)); break;
		case 3: RCHECK(fd[1], "IPC_RMID", semctl(id, 0, IPC_RMID)); break;
		case 4: {
			struct sembuf b = { 0, (short)((int)rn(3) - 1), IPC_NOWAIT };
			RCHECK(fd[1], "semop", semop(id, &b, 1));
			break;
		}
		case 5:
			memset(&ds, 0, sizeof ds);
			ds.sem_perm.uid = NOBODY;
			ds.sem_perm.gid = NOBODY;
			ds.sem_perm.mode = 0666;
			RCHECK(fd[1], "IPC_SET", semctl(id, 0, IPC_SET, a));
			break;
		default:
			RCHECK(fd[1], "semget(key)", slots[s].key >= 0 ? semget(keys[slots[s].key], 0, 0600) >= 0 ? 0 : -1
								      : (errno = ENOENT, -1));
		}
		send_line(fd[1], "end");
		_exit(0);
	}
	close(fd[1]);
	char b[256], e[16];
	recv_line(fd[0], b, sizeof b);
	recv_line(fd[0], e, sizeof e);
	close(fd[0]);
	reap_ok(p);
	line(0, "nobody(s%d) %s", s, b);
	revalidate();
}

/* A child does SEM_UNDO operations and exits; its adjustments are undone. */
static void op_undo_child(void)
{
	int s = live_slot();
	if (s < 0)
		return;
	int id = slots[s].id, nsems = slots[s].nsems;
	int nops = 1 + (int)rn(3);
	struct sembuf b[3][2];
	for (int i = 0; i < nops; i++)
		for (int j = 0; j < 2; j++)
			b[i][j] = (struct sembuf){ (unsigned short)rn(nsems), (short)((int)rn(5) - 2),
						   (short)(IPC_NOWAIT | (chance(80) ? SEM_UNDO : 0)) };
	int how = (int)rn(3); /* 0 exit, 1 SIGKILL after its calls, 2 exec-less _exit in a grandchild */
	int fd[2];
	xpipe(fd);
	pid_t p = xfork();
	if (p == 0) {
		close(fd[0]);
		for (int i = 0; i < nops; i++)
			RCHECK(fd[1], "semop", semop(id, b[i], 1 + (i & 1)));
		send_line(fd[1], "end");
		if (how == 1)
			pause();
		_exit(0);
	}
	close(fd[1]);
	char l[256];
	char all[600] = "";
	for (;;) {
		recv_line(fd[0], l, sizeof l);
		if (strcmp(l, "end") == 0)
			break;
		strncat(all, l, sizeof all - strlen(all) - 2);
		strcat(all, ";");
	}
	close(fd[0]);
	if (how == 1)
		kill(p, SIGKILL);
	reap(p);
	line(0, "undo-child(s%d) %s exit=%s ->%s", s, all, how == 1 ? "kill" : "exit", digest(s));
}

/*
 * Wait until GETNCNT+GETZCNT of a semaphore reaches want; 1 if it did, 0
 * if the child wrote on the pipe first (its call returned: it never slept).
 */
static int wait_waiters(int id, int num, int want, int pipefd)
{
	for (int i = 0; i < 5000; i++) {
		int n = semctl(id, num, GETNCNT), z = semctl(id, num, GETZCNT);
		if (n < 0 || z < 0)
			return 0;
		if (n + z >= want)
			return 1;
		struct pollfd pf = { .fd = pipefd, .events = POLLIN };
		if (poll(&pf, 1, 1) > 0)
			return 0;
	}
	return 0;
}

/*
 * A child sleeps in semop (after an undo-recorded operation that succeeds);
 * then it is killed, or the set is removed under it, or a value change
 * wakes it.
 */
static void op_sleeper(void)
{
	int s = live_slot();
	if (s < 0)
		return;
	int id = slots[s].id, nsems = slots[s].nsems;
	int num = (int)rn(nsems);
	int v = semctl(id, num, GETVAL);
	if (v < 0)
		die("GETVAL");
	int zero = v > 0 && chance(40);
	/* the undo-recorded operation never touches the semaphore the child sleeps on */
	struct sembuf pre = { (unsigned short)((num + 1 + (int)rn(nsems)) % nsems), 1, SEM_UNDO | IPC_NOWAIT };
	if (nsems == 1)
		pre.sem_op = 0;
	struct sembuf sl[2] = { { (unsigned short)num, (short)(zero ? 0 : -(v + 1)), (short)(chance(50) ? SEM_UNDO : 0) },
				{ (unsigned short)rn(nsems), 1, SEM_UNDO } };
	int nsl = 1 + (int)rn(2);
	if (nsl == 2 && sl[1].sem_num == num)
		nsl = 1;
	int end = (int)rn(4); /* 0 SIGKILL, 1 IPC_RMID, 2 wake by SETVAL, 3 SIGTERM */
	if (end == 2 && !zero && v >= SEMVMX_)
		end = 0; /* -(v+1) can never succeed */
	int timed = chance(30);
	int fd[2];
	xpipe(fd);
	pid_t p = xfork();
	if (p == 0) {
		close(fd[0]);
		RCHECK(fd[1], "pre", semop(id, &pre, 1));
		struct timespec ts = { 30, 0 };
		RCHECK(fd[1], "sleep", timed ? semtimedop(id, sl, nsl, &ts) : semop(id, sl, nsl));
		send_line(fd[1], "end");
		_exit(0);
	}
	close(fd[1]);
	char l1[128], l2[128] = "-";
	recv_line(fd[0], l1, sizeof l1);
	int blocked = wait_waiters(id, num, 1, fd[0]);
	int n = semctl(id, num, zero ? GETZCNT : GETNCNT);
	int gone = 0;
	if (!blocked)
		end = 4; /* its call returned at once: just collect it */
	switch (end) {
	case 4: break;
	case 0: kill(p, SIGKILL); break;
	case 3: kill(p, SIGTERM); break;
	case 1:
		if (semctl(id, 0, IPC_RMID) < 0)
			die("IPC_RMID");
		make_stale(s);
		gone = 1;
		break;
	default: {
		int nv = v + 1 + (int)rn(3);
		union semun a = { .val = zero ? 0 : nv > SEMVMX_ ? SEMVMX_ : nv };
		if (semctl(id, num, SETVAL, a) < 0)
			die("SETVAL");
	}
	}
	if (end == 1 || end == 2 || end == 4) {
		recv_line(fd[0], l2, sizeof l2);
		char e[16];
		recv_line(fd[0], e, sizeof e);
	}
	close(fd[0]);
	int st = reap(p);
	line(0, "sleeper(s%d, %s %d, %s) %s; blocked=%s cnt=%d; %s: %s; status=%s%s", s, zero ? "zero" : "dec",
	     num, timed ? "timed" : "untimed", l1, yesno(blocked), n,
	     end == 0 ? "SIGKILL" : end == 1 ? "IPC_RMID" : end == 2 ? "SETVAL" : end == 3 ? "SIGTERM" : "none", l2,
	     WIFSIGNALED(st) ? "signal" : "exit", gone ? "" : digest(s));
	if (!gone) {
		line(0, "  after: ncnt=%d zcnt=%d", semctl(id, num, GETNCNT), semctl(id, num, GETZCNT));
	}
}

/* ---------- several sleepers on one set: who wakes, in which state ---------- */

#define MULTI 5
struct sleeper {
	pid_t pid;
	int res_fd; /* the child writes its result here */
	int go_fd;  /* the child exits when this closes */
	int state;  /* 0 asleep or not yet reported, 1 reported, 2 gone */
	char res[48];
};

/* Waiters queued on the set: the sum of GETNCNT and GETZCNT (each sleeper counts once, on the semaphore it blocks on). */
static int queued(int id, int nsems)
{
	int n = 0;
	for (int i = 0; i < nsems; i++) {
		int a = semctl(id, i, GETNCNT), b = semctl(id, i, GETZCNT);
		if (a < 0 || b < 0)
			return -1;
		n += a + b;
	}
	return n;
}

/*
 * Wait until every child that has not reported is queued on the set (the
 * state is settled: a woken child always reports, a sleeping one is
 * counted), reading the reports that arrive meanwhile. Returns them as
 * "c1=0 c3=-1 EIDRM" in index order, "-" if none.
 */
static const char *settle(struct sleeper *c, int k, int id, int nsems)
{
	static char out[256];
	int ok = 0;
	for (int t = 0; t < 5000 && !ok; t++) {
		struct pollfd pf[MULTI];
		int map[MULTI], n = 0;
		for (int j = 0; j < k; j++)
			if (c[j].state == 0) {
				pf[n] = (struct pollfd){ .fd = c[j].res_fd, .events = POLLIN };
				map[n++] = j;
			}
		if (n > 0 && poll(pf, (nfds_t)n, 0) > 0) {
			for (int i = 0; i < n; i++)
				if (pf[i].revents) {
					struct sleeper *x = &c[map[i]];
					recv_line(x->res_fd, x->res, sizeof x->res);
					x->state = 1;
				}
			continue;
		}
		int asleep = 0;
		for (int j = 0; j < k; j++)
			asleep += c[j].state == 0;
		/*
		 * The counts are read one semaphore at a time: a sleeper that moves
		 * to another semaphore while we read may be counted twice. Two
		 * equal readings (values and counts) in a row rule that out.
		 */
		static unsigned short v1[64], v2[64];
		int q1 = queued(id, nsems);
		union semun a1 = { .array = v1 }, a2 = { .array = v2 };
		semctl(id, 0, GETALL, a1);
		msleep(1);
		int q2 = queued(id, nsems);
		semctl(id, 0, GETALL, a2);
		if (q1 == asleep && q2 == asleep && !memcmp(v1, v2, sizeof v1))
			ok = 1;
	}
	int o = 0;
	out[0] = 0;
	for (int j = 0; j < k; j++)
		if (c[j].state == 1 && c[j].res[0]) {
			o += snprintf(out + o, sizeof out - o, "%sc%d=%s", o ? " " : "", j, c[j].res);
			c[j].res[0] = 0; /* printed once */
		}
	if (!ok)
		snprintf(out + o, sizeof out - o, "%s(never settled)", o ? " " : "");
	return o || !ok ? out : "-";
}

static void op_multi(void)
{
	int s = live_slot();
	if (s < 0)
		return;
	int id = slots[s].id, nsems = slots[s].nsems < 4 ? slots[s].nsems : 4;
	if (slots[s].nsems > 64)
		return; /* queued() polls every semaphore */
	int k = 2 + (int)rn(MULTI - 1);
	struct sleeper c[MULTI];
	int blocked = queued(id, slots[s].nsems);
	if (blocked != 0) {
		line(0, "multi(s%d): %d sleepers before we start", s, blocked);
		return;
	}
	char head[400], donebuf[300] = "";
	int dn = 0;
	int ho = snprintf(head, sizeof head, "multi(s%d)%s:", s, digest(s));
	for (int j = 0; j < k; j++) {
		struct sembuf b[3];
		int n = 1 + (int)rn(3);
		for (int i = 0; i < n; i++)
			b[i] = (struct sembuf){ (unsigned short)rn(nsems), (short)((int)rn(5) - 2),
						(short)(chance(40) ? SEM_UNDO : 0) };
		for (int i = 0; i < n; i++)
			ho += snprintf(head + ho, sizeof head - ho, "%s%u:%d%s", i ? "," : " c[", b[i].sem_num, b[i].sem_op,
				       b[i].sem_flg ? "u" : "");
		ho += snprintf(head + ho, sizeof head - ho, "]");
		int rp[2], gp[2];
		xpipe(rp);
		xpipe(gp);
		pid_t p = xfork();
		if (p == 0) {
			close(rp[0]);
			close(gp[1]);
			for (int i = 0; i < j; i++) {
				close(c[i].res_fd);
				close(c[i].go_fd);
			}
			struct timespec ts = { 30, 0 };
			errno = 0;
			long r = semtimedop(id, b, (size_t)n, &ts);
			send_line(rp[1], res(r, errno));
			char ch;
			while (read(gp[0], &ch, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		close(rp[1]);
		close(gp[0]);
		c[j] = (struct sleeper){ .pid = p, .res_fd = rp[0], .go_fd = gp[1], .state = 0 };
		/* settled before the next one starts: the queue order is the spawn order */
		const char *r = settle(c, j + 1, id, slots[s].nsems);
		if (strcmp(r, "-") != 0)
			dn += snprintf(donebuf + dn, sizeof donebuf - dn, "%s%s", dn ? " " : "", r);
	}
	line(0, "%s", head);
	blocked = queued(id, slots[s].nsems);
	line(0, "  start: queued %d, done %s%s", blocked, dn ? donebuf : "-", digest(s));
	/* actions that may wake some of them */
	int nact = 1 + (int)rn(4);
	for (int a = 0; a < nact && blocked > 0; a++) {
		char ad[64];
		int num = (int)rn(nsems);
		int c2 = (int)rn(3);
		long r;
		if (c2 == 0) {
			int v = (int)rn(4);
			r = semctl(id, num, SETVAL, (union semun){ .val = v });
			snprintf(ad, sizeof ad, "SETVAL %d=%d", num, v);
		} else if (c2 == 1) {
			struct sembuf b = { (unsigned short)num, (short)(1 + rn(2)), IPC_NOWAIT };
			r = semop(id, &b, 1);
			snprintf(ad, sizeof ad, "semop %d:+%d", num, b.sem_op);
		} else {
			struct sembuf b = { (unsigned short)num, (short)-1, IPC_NOWAIT };
			r = semop(id, &b, 1);
			snprintf(ad, sizeof ad, "semop %d:-1", num);
		}
		int e = errno;
		const char *woke = settle(c, k, id, slots[s].nsems);
		int now = queued(id, slots[s].nsems);
		line(0, "  %s = %s: queued %d, woke %s%s", ad, res(r, e), now, woke, digest(s));
		blocked = now;
	}
	/* the end: each goes (undo applies), in a random order; sleepers are killed */
	for (int left = k; left > 0; left--) {
		int j = (int)rn((uint32_t)k);
		while (c[j].state == 2)
			j = (j + 1) % k;
		int was_asleep = c[j].state == 0;
		if (was_asleep)
			kill(c[j].pid, SIGKILL);
		close(c[j].go_fd);
		reap(c[j].pid);
		close(c[j].res_fd);
		c[j].state = 2;
		const char *woke = settle(c, k, id, slots[s].nsems);
		int now = queued(id, slots[s].nsems);
		line(0, "  c%d %s: queued %d, woke %s%s", j, was_asleep ? "killed" : "exits", now, woke, digest(s));
		blocked = now;
	}
}

/* The fuzzer itself sleeps in a call that must block, and a signal ends it. */
static void op_signal(void)
{
	int s = live_slot();
	if (s < 0)
		return;
	int id = slots[s].id, nsems = slots[s].nsems;
	int num = (int)rn(nsems);
	int v = semctl(id, num, GETVAL);
	if (v < 0)
		die("GETVAL");
	int restart = chance(50), stop = chance(25), timed = chance(40);
	handler(SIGUSR1, restart);
	struct sembuf b = { (unsigned short)num, (short)(-(v + 1)), (short)(chance(50) ? SEM_UNDO : 0) };
	if (v > 0 && chance(30))
		b.sem_op = 0;
	struct timespec ts = { 20, 0 };
	/*
	 * Sometimes the handler does what the sleeper waits for (a +v+1, or a
	 * SETVAL-like -v on a zero-wait) on the same semaphore: the sleeper has
	 * left the queue before a handler runs, so it must still get EINTR and
	 * the handler's operation must stay.
	 */
	int with_hop = stop ? 0 : (int)rn(3); /* 0 none, 1 same semaphore, 2 another */
	char hd[48] = "";
	if (with_hop) {
		int hnum = with_hop == 1 || nsems == 1 ? num : (num + 1) % nsems;
		hop = (struct sembuf){ (unsigned short)hnum, (short)(b.sem_op == 0 ? -v : v + 1), IPC_NOWAIT };
		if (hop.sem_op == 0)
			hop.sem_op = 1;
		hop_res = -2;
		hop_id = id;
		snprintf(hd, sizeof hd, ", handler semop %u:%d", hop.sem_num, hop.sem_op);
	}
	pid_t t = ticker(stop);
	errno = 0;
	long r = timed ? semtimedop(id, &b, 1, &ts) : semop(id, &b, 1);
	int e = errno;
	stop_ticker(t);
	hop_id = -1;
	char hr[48] = "";
	if (with_hop)
		snprintf(hr, sizeof hr, "; handler's semop %s", hop_res == -2 ? "not run" : res(hop_res, hop_errno));
	line(r, "signal(s%d, %u:%d:%#x, %s, %s%s%s) = %s%s; ncnt=%d zcnt=%d%s", s, b.sem_num, b.sem_op, (unsigned)b.sem_flg,
	     timed ? "timed" : "untimed", restart ? "SA_RESTART" : "plain", stop ? " +STOP/CONT" : "", hd, res(r, e), hr,
	     semctl(id, num, GETNCNT), semctl(id, num, GETZCNT), digest(s));
}

/* ---------- file locks ---------- */

static int lk_fds[9];
static const char *lk_names[9] = { "A", "A2", "B", "R", "W", "pipe", "closed", "-1", "dir" };
static pid_t lk_helper;

static void locks_setup(void)
{
	int A = open("semfuzz.lock", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (A < 0)
		die("open semfuzz.lock");
	TRY(ftruncate(A, 100));
	int p[2];
	xpipe(p);
	lk_fds[0] = A;
	lk_fds[1] = TRY(dup(A));
	lk_fds[2] = TRY(open("semfuzz.lock", O_RDWR));
	lk_fds[3] = TRY(open("semfuzz.lock", O_RDONLY));
	lk_fds[4] = TRY(open("semfuzz.lock", O_WRONLY));
	lk_fds[5] = p[0];
	lk_fds[6] = 900;
	lk_fds[7] = -1;
	lk_fds[8] = TRY(open(".", O_RDONLY | O_DIRECTORY));
	close(p[1]);
}

static void locks_teardown(void)
{
	for (int i = 0; i < 9; i++)
		if (lk_fds[i] >= 0 && i != 6)
			close(lk_fds[i]);
	unlink("semfuzz.lock");
}

static const char *ltype(int t)
{
	static char b[16];
	switch (t) {
	case F_RDLCK: return "RD";
	case F_WRLCK: return "WR";
	case F_UNLCK: return "UN";
	default: snprintf(b, sizeof b, "t%d", t); return b;
	}
}

static const char *lpid(pid_t p)
{
	return p == 0 ? "0" : p == -1 ? "-1" : p == self ? "self" : p == lk_helper ? "helper" : "other";
}

static void print_flock(char *b, size_t sz, const struct flock *f)
{
	snprintf(b, sz, " {%s whence=%d start=%lld len=%lld pid=%s}", ltype(f->l_type), f->l_whence,
		 (long long)f->l_start, (long long)f->l_len, lpid(f->l_pid));
}

static long long pick_off(int len)
{
	int c = (int)rn(20);
	if (c < 13)
		return len ? (long long)rn(30) : (long long)rn(120);
	switch (c) {
	case 13: return -1;
	case 14: return -(long long)rn(200);
	case 15: return LLONG_MAX;
	case 16: return LLONG_MIN;
	case 17: return 1LL << 62;
	case 18: return LLONG_MAX - (long long)rn(100);
	default: return (long long)rnd64();
	}
}

static void op_fcntl(void)
{
	static const int cmds[] = { F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW };
	int fi = chance(85) ? (int)rn(5) : (int)rn(9);
	int fd = lk_fds[fi];
	int cmd = PICK(cmds);
	struct flock f;
	memset(&f, 0, sizeof f);
	static const short types[] = { F_RDLCK, F_WRLCK, F_UNLCK, F_RDLCK, F_WRLCK, F_UNLCK, 3, -1 };
	f.l_type = chance(95) ? PICK(types) : (short)rnd64();
	f.l_whence = chance(60) ? SEEK_SET : chance(85) ? (short)rn(3) : chance(50) ? 3 : (short)rnd64();
	f.l_start = chance(75) ? (long long)rn(40) : pick_off(0);
	f.l_len = chance(20) ? 0 : chance(75) ? 1 + (long long)rn(20) : pick_off(1);
	f.l_pid = chance(90) ? 0 : (pid_t)rnd64();
	int kind = chance(85) ? PK_GOOD : pick_kind();
	uint64_t arg = place(kind, &f, sizeof f);
	/* Would a waiting command sleep? Ask the matching GETLK first: then a signal ends the sleep. */
	pid_t t = -1;
	if ((cmd == F_SETLKW || cmd == F_OFD_SETLKW) && (kind == PK_GOOD || kind == PK_MISALIGN || kind == PK_RO)) {
		struct flock q = f;
		if (fcntl(fd, cmd == F_SETLKW ? F_GETLK : F_OFD_GETLK, &q) == 0 && q.l_type != F_UNLCK) {
			handler(SIGUSR1, 0);
			t = ticker(0);
		}
	}
	errno = 0;
	long r = syscall(SYS_fcntl, fd, cmd, arg);
	int e = errno;
	if (t > 0)
		stop_ticker(t);
	char out[160] = "";
	if (r == 0 && (cmd == F_GETLK || cmd == F_OFD_GETLK) && (kind == PK_GOOD || kind == PK_MISALIGN))
		print_flock(out, sizeof out, (struct flock *)(uintptr_t)arg);
	static const char *cn[] = { [5] = "GETLK", [6] = "SETLK", [7] = "SETLKW", [36] = "OFD_GETLK",
				    [37] = "OFD_SETLK", [38] = "OFD_SETLKW" };
	line(r, "fcntl(%s, %s, %s:{%s whence=%d start=%lld len=%lld pid=%s}) = %s%s", lk_names[fi], cn[cmd],
	     pkname[kind], ltype(f.l_type), f.l_whence, (long long)f.l_start, (long long)f.l_len,
	     f.l_pid ? "junk" : "0", res(r, e), out);
}

static void op_flock(void)
{
	int fi = chance(85) ? (int)rn(5) : (int)rn(9);
	int fd = lk_fds[fi];
	static const int ops[] = { LOCK_SH, LOCK_EX, LOCK_UN, LOCK_SH | LOCK_NB, LOCK_EX | LOCK_NB, LOCK_UN | LOCK_NB };
	int op = chance(90) ? PICK(ops) : chance(50) ? (int)rn(64) : (int)rnd64();
	pid_t t = -1;
	int probe = -1;
	if (!(op & LOCK_NB) && ((op & ~LOCK_NB) == LOCK_SH || (op & ~LOCK_NB) == LOCK_EX)) {
		/* NB first: on success the waiting call succeeds at once, on EWOULDBLOCK it would sleep */
		probe = flock(fd, op | LOCK_NB) == 0 ? 0 : errno;
		if (probe == EWOULDBLOCK) {
			handler(SIGUSR1, 0);
			t = ticker(0);
		}
	}
	errno = 0;
	long r = flock(fd, op);
	int e = errno;
	if (t > 0)
		stop_ticker(t);
	line(r, "flock(%s, %#x) = %s", lk_names[fi], (unsigned)op, res(r, e));
}

/* A helper child looks at our POSIX locks (a process never sees its own with F_GETLK). */
static void op_lockview(void)
{
	int fd[2];
	xpipe(fd);
	pid_t p = xfork();
	if (p == 0) {
		close(fd[0]);
		int f = open("semfuzz.lock", O_RDWR);
		char b[200];
		long long start = 0;
		for (int i = 0; i < 6; i++) {
			struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = 0 };
			if (fcntl(f, F_GETLK, &q) < 0) {
				snprintf(b, sizeof b, "GETLK %s", errname(errno));
				send_line(fd[1], b);
				break;
			}
			if (q.l_type == F_UNLCK)
				break;
			snprintf(b, sizeof b, "%s %lld+%lld %s", ltype(q.l_type), (long long)q.l_start, (long long)q.l_len,
				 q.l_pid == getppid() ? "parent" : q.l_pid == -1 ? "ofd" : "other");
			send_line(fd[1], b);
			if (q.l_len == 0 || q.l_start + q.l_len <= start)
				break;
			start = q.l_start + q.l_len;
		}
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		errno = 0;
		long fr = flock(f, LOCK_EX | LOCK_NB);
		snprintf(b, sizeof b, "flock-EX-NB %s", res(fr, errno));
		send_line(fd[1], b);
		(void)q;
		send_line(fd[1], "end");
		_exit(0);
	}
	close(fd[1]);
	char all[800] = "", l[256];
	for (;;) {
		recv_line(fd[0], l, sizeof l);
		if (strcmp(l, "end") == 0)
			break;
		strncat(all, l, sizeof all - strlen(all) - 2);
		strcat(all, "; ");
	}
	close(fd[0]);
	reap_ok(p);
	line(0, "lockview: %s", all);
}

/* close + reopen of a descriptor: POSIX locks of the process on the file go. */
static void op_lockclose(void)
{
	int fi = (int)rn(5);
	int flags[] = { O_RDWR, O_RDWR, O_RDWR, O_RDONLY, O_WRONLY };
	if (fi == 1) {
		close(lk_fds[1]);
		lk_fds[1] = TRY(dup(lk_fds[0]));
	} else {
		int nfd = TRY(open("semfuzz.lock", flags[fi]));
		if (chance(50)) {
			TRY(dup2(nfd, lk_fds[fi]));
			close(nfd);
		} else {
			close(lk_fds[fi]);
			if (fi == 0) {
				close(lk_fds[1]);
				lk_fds[1] = TRY(dup(nfd));
			}
			lk_fds[fi] = nfd;
		}
	}
	line(0, "reopen(%s)", lk_names[fi]);
}

/* ---------- the deterministic part ---------- */

static int wakeups;

static void deterministic(uint64_t seed, long n, int locks)
{
	rng = seed;
	for (int i = 0; i < 4; i++)
		keys[i] = (key_t)(0x5F000000 | ((seed * 2654435761U + (uint64_t)self * 40503U) & 0xfffc00) | (i << 2) | 1);
	if (locks)
		locks_setup();
	for (step = 0; step < n; step++) {
		/* with locks, a third of the calls are lock calls */
		if (locks && chance(33)) {
			int c = (int)rn(100);
			if (c < 60)
				op_fcntl();
			else if (c < 85)
				op_flock();
			else if (c < 95)
				op_lockview();
			else
				op_lockclose();
			continue;
		}
		if (wakeups && live_slot() >= 0 && chance(30)) {
			op_multi();
			continue;
		}
		int c = (int)rn(100);
		if (live_slot() < 0 || c < 14)
			op_semget();
		else if (c < 55)
			op_semop();
		else if (c < 88)
			op_semctl();
		else if (c < 91)
			op_nobody();
		else if (c < 95)
			op_undo_child();
		else if (c < 96)
			op_sleeper();
		else if (c < 98)
			op_multi();
		else
			op_signal();
	}
	remove_all();
	if (locks)
		locks_teardown();
	say("deterministic: %ld calls", n);
}

/* ---------- the chaos part ---------- */

#define CSETS 4
struct shared {
	volatile int ids[CSETS];
	volatile int nsems[CSETS];
	volatile int stop;
	volatile pid_t pids[16];
};
static struct shared *sh;
static key_t chaos_key;
static int chaos_locks;

static void chaos_call(int lockfd)
{
	int si = (int)rn(CSETS);
	int id = sh->ids[si], nsems = sh->nsems[si];
	if (nsems <= 0)
		nsems = 1;
	int c = (int)rn(100);
	if (c < 45) {
		struct sembuf b[3];
		int n = 1 + (int)rn(3);
		for (int i = 0; i < n; i++)
			b[i] = (struct sembuf){ (unsigned short)rn(nsems), (short)((int)rn(5) - 2),
						(short)((chance(40) ? SEM_UNDO : 0) | (chance(50) ? IPC_NOWAIT : 0)) };
		struct timespec ts = { 0, (long)rn(5000000) };
		if (chance(70))
			semtimedop(id, b, n, chance(90) ? &ts : NULL);
		else
			semop(id, b, n);
	} else if (c < 50) {
		sys_semop(id, place(pick_kind(), NULL, 0), rn(4));
	} else if (c < 58) {
		union semun a = { .val = (int)rn(4) };
		semctl(id, (int)rn(nsems), SETVAL, a);
	} else if (c < 62) {
		unsigned short v[16];
		for (int i = 0; i < 16; i++)
			v[i] = (unsigned short)rn(3);
		union semun a = { .array = v };
		if (nsems <= 16)
			semctl(id, 0, SETALL, a);
	} else if (c < 70) {
		semctl(id, (int)rn(nsems), chance(50) ? GETNCNT : GETZCNT);
	} else if (c < 72 && si == 0) {
		/* the keyed set: remove it and create it again */
		if (semctl(id, 0, IPC_RMID) == 0) {
			int nid = semget(chaos_key, 4, IPC_CREAT | 0600);
			if (nid >= 0)
				sh->ids[0] = nid;
		}
	} else if (c < 76) {
		int peer = (int)rn(16);
		pid_t p = sh->pids[peer];
		if (p > 0) {
			if (chance(70))
				kill(p, SIGUSR1);
			else {
				kill(p, SIGSTOP);
				kill(p, SIGCONT);
			}
		}
	} else if (c < 79) {
		pid_t me = getpid();
		pid_t g = fork();
		if (g == 0) {
			/* dies with the worker: an orphan asleep would look like a leaked waiter */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != me)
				_exit(0);
			struct sembuf b = { (unsigned short)rn(nsems), -1, SEM_UNDO };
			semop(id, &b, 1);
			_exit(0);
		}
		if (g > 0) {
			if (chance(50)) {
				msleep(rn(3));
				kill(g, SIGKILL);
			}
			/* it may sleep: a SETALL from someone wakes it, or the kill above */
			if (chance(50))
				kill(g, SIGKILL);
			while (waitpid(g, NULL, 0) < 0 && errno == EINTR)
				;
		}
	} else if (c < 90 && lockfd >= 0) {
		struct flock f = { .l_type = chance(50) ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET,
				   .l_start = rn(20), .l_len = rn(10) };
		int cmd = chance(50) ? F_SETLKW : chance(50) ? F_SETLK : chance(50) ? F_OFD_SETLK : F_OFD_SETLKW;
		fcntl(lockfd, cmd, &f);
		if (chance(50)) {
			f.l_type = F_UNLCK;
			fcntl(lockfd, cmd == F_OFD_SETLKW || cmd == F_OFD_SETLK ? F_OFD_SETLK : F_SETLK, &f);
		}
	} else if (c < 94 && lockfd >= 0) {
		flock(lockfd, chance(50) ? LOCK_SH : chance(50) ? LOCK_EX : LOCK_UN | (chance(50) ? LOCK_NB : 0));
	} else {
		struct semid_ds ds;
		union semun a = { .buf = &ds };
		semctl(id, 0, IPC_STAT, a);
	}
}

struct thr {
	uint64_t seed;
	long n;
	int lockfd;
};

static void *chaos_thread(void *arg)
{
	struct thr *t = arg;
	rng = t->seed; /* races with the main thread's use of rng: fine, chaos is not reproducible */
	for (long i = 0; i < t->n && !sh->stop; i++)
		chaos_call(t->lockfd);
	return NULL;
}

static void chaos_worker(uint64_t seed, long n)
{
	rng = seed;
	handler(SIGUSR1, chance(50));
	int lockfd = chaos_locks ? open("semfuzz.chaos", O_RDWR) : -1;
	if (chance(40)) {
		static struct thr t;
		t = (struct thr){ seed ^ 0x5555, n, lockfd };
		pthread_t th;
		pthread_create(&th, NULL, chaos_thread, &t);
	}
	for (long i = 0; i < n && !sh->stop; i++)
		chaos_call(lockfd);
	_exit(0);
}

static void chaos(uint64_t seed, long n, int locks)
{
	rng = seed ^ 0xc4a05ULL;
	chaos_locks = locks;
	chaos_key = (key_t)(0x5F000000 | ((seed * 2654435761U + (uint64_t)self * 40503U) & 0xfffc00) | 3);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap shared");
	memset((void *)sh, 0, sizeof *sh);
	if (locks) {
		int f = open("semfuzz.chaos", O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (f < 0)
			die("open semfuzz.chaos");
		TRY(ftruncate(f, 64));
		close(f);
	}
	sh->ids[0] = semget(chaos_key, 4, IPC_CREAT | IPC_EXCL | 0600);
	if (sh->ids[0] < 0)
		die("semget chaos key");
	sh->nsems[0] = 4;
	track_set(sh->ids[0]);
	for (int i = 1; i < CSETS; i++) {
		sh->nsems[i] = 1 + i * 2;
		sh->ids[i] = semget(IPC_PRIVATE, sh->nsems[i], IPC_CREAT | 0600);
		if (sh->ids[i] < 0)
			die("semget chaos");
		track_set(sh->ids[i]);
	}
	/*
	 * A worker's children (killed by PDEATHSIG when it dies) share its open
	 * file description: until one has exited, the description's flock and
	 * OFD locks stay. As their subreaper we wait for every one of them before
	 * looking at what is left, instead of racing their exit.
	 */
	TRY(prctl(PR_SET_CHILD_SUBREAPER, 1));
	int nw = 4 + (int)rn(5);
	long per = 1L << 40; /* workers run until stopped or killed */
	pid_t w[16] = { 0 };
	for (int i = 0; i < nw; i++) {
		uint64_t ws = rnd64();
		pid_t p = fork();
		if (p < 0)
			die("fork");
		if (p == 0)
			chaos_worker(ws, per);
		w[i] = p;
		sh->pids[i] = p;
	}
	/* N/2000 seconds, 0.3 s at least, 60 s at most */
	double span = n / 2000.0;
	double deadline = now_s() + (span < 0.3 ? 0.3 : span > 60 ? 60 : span);
	int alive = nw, kills = 0, respawns = 0;
	while (alive > 0 && now_s() < deadline) {
		msleep(1);
		int c = (int)rn(100);
		int i = (int)rn(nw);
		if (c < 10 && w[i] > 0) {
			kill(w[i], SIGKILL);
			kills++;
		} else if (c < 20 && w[i] > 0) {
			kill(w[i], SIGUSR1);
		} else if (c < 23 && w[i] > 0) {
			kill(w[i], SIGSTOP);
			msleep(1);
			kill(w[i], SIGCONT);
		} else if (c < 25) {
			for (int k = 0; k < nw; k++)
				if (w[k] > 0)
					kill(w[k], SIGCONT);
		} else if (c < 40) {
			/* wake sleepers: raise every value of a set */
			int si = (int)rn(CSETS);
			unsigned short v[16];
			for (int k = 0; k < 16; k++)
				v[k] = (unsigned short)(1 + rn(3));
			union semun a = { .array = v };
			semctl(sh->ids[si], 0, SETALL, a);
		}
		/* reap, respawn the killed ones a few times */
		for (int k = 0; k < nw; k++) {
			if (w[k] <= 0)
				continue;
			int st;
			pid_t r = waitpid(w[k], &st, WNOHANG);
			if (r == w[k]) {
				w[k] = 0;
				sh->pids[k] = 0;
				alive--;
				if (WIFSIGNALED(st) && now_s() < deadline - 0.05) {
					uint64_t ws = rnd64();
					pid_t p = fork();
					if (p < 0)
						die("fork");
					if (p == 0)
						chaos_worker(ws, per / 2);
					w[k] = p;
					sh->pids[k] = p;
					alive++;
					respawns++;
				}
			}
		}
	}
	sh->stop = 1;
	for (int k = 0; k < nw; k++)
		if (w[k] > 0)
			kill(w[k], SIGKILL);
	for (int k = 0; k < nw; k++)
		if (w[k] > 0)
			while (waitpid(w[k], NULL, 0) < 0 && errno == EINTR)
				;
	/* the grandchildren of killed workers, reparented to us */
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	if (errno != ECHILD)
		die("waitpid");
	say("chaos: %d workers", nw);
	(void)kills;
	const char *hold = getenv("SEMFUZZ_HOLD");
	if (hold && strcmp(hold, "1") == 0) {
		say("chaos: holding");
		char c;
		while (read(0, &c, 1) < 0 && errno == EINTR)
			;
	}
	/* Every process but this one has been reaped: nobody may still count as a sleeper, every value is in range. */
	int waiters = 0, bad = 0;
	for (int i = 0; i < CSETS; i++) {
		int id = sh->ids[i];
		union semun a = { .array = hbuf };
		if (semctl(id, 0, GETALL, a) < 0)
			continue; /* the keyed set, removed by a worker that died before making it again */
		for (int k = 0; k < sh->nsems[i]; k++) {
			int nc = semctl(id, k, GETNCNT), zc = semctl(id, k, GETZCNT);
			if (nc != 0 || zc != 0)
				waiters++;
			if (hbuf[k] > SEMVMX_)
				bad++;
		}
	}
	say("chaos: semaphores with sleepers %d, values out of range %d", waiters, bad);
	for (int i = 0; i < CSETS; i++)
		semctl(sh->ids[i], 0, IPC_RMID);
	/* the keyed set may have been re-created by a worker that died right after: remove by key too */
	int k = semget(chaos_key, 0, 0);
	if (k >= 0)
		semctl(k, 0, IPC_RMID);
	if (locks) {
		int f = open("semfuzz.chaos", O_RDWR);
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int r = fcntl(f, F_GETLK, &q);
		struct flock o = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int r2 = fcntl(f, F_OFD_GETLK, &o);
		int r3 = flock(f, LOCK_EX | LOCK_NB);
		say("chaos: locks left: posix %s, ofd %s, flock %s", r < 0 ? errname(errno) : ltype(q.l_type),
		    r2 < 0 ? "error" : ltype(o.l_type), r3 == 0 ? "none" : "held");
		close(f);
		unlink("semfuzz.chaos");
	}
}

/* ---------- main ---------- */

static void on_guard(int sig)
{
	(void)sig;
	static const char m[] = "FATAL timeout (alarm guard)\n";
	ssize_t r = write(1, m, sizeof m - 1);
	(void)r;
	if (getpid() == g_main_pid) {
		if (sh)
			for (int i = 0; i < CSETS; i++)
				semctl(sh->ids[i], 0, IPC_RMID);
		remove_all();
	}
	_exit(98);
}

static void at_exit_cleanup(void)
{
	if (getpid() == g_main_pid) {
		if (sh)
			for (int i = 0; i < CSETS; i++)
				semctl(sh->ids[i], 0, IPC_RMID);
		remove_all();
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: semfuzz SEED N [PARTS: d c l]\n");
		return 2;
	}
	uint64_t seed = strtoull(argv[1], NULL, 0);
	long n = strtol(argv[2], NULL, 0);
	const char *parts = argc > 3 ? argv[3] : "dc";
	setvbuf(stdout, NULL, _IOLBF, 0);
	self = getpid();
	g_main_pid = self;
	for (int i = 0; i < NSLOT; i++)
		slots[i].id = -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_guard;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)(60 + n / 50));
	atexit(at_exit_cleanup);
	long v[4];
	if (read_kernel_sem(v) != 4)
		die("parse /proc/sys/kernel/sem");
	lim_semmsl = v[0];
	lim_semopm = v[2];
	map_regions();
	handler(SIGUSR1, 0);
	int locks = strchr(parts, 'l') != NULL;
	wakeups = strchr(parts, 'w') != NULL;
	exact = strchr(parts, 'n') != NULL;
	say("semfuzz seed=%llu n=%ld parts=%s", (unsigned long long)seed, n, parts);
	if (strchr(parts, 'd'))
		deterministic(seed, n, locks);
	if (strchr(parts, 'c'))
		chaos(seed, n, locks);
	say("done");
	return 0;
}
