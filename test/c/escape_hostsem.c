/*
 * escape_hostsem - a semaphore set of the host, seen from inside the sandbox.
 *
 *   escape_hostsem create KEY   (natively) make a set with KEY, value 42;
 *                                prints "id N"
 *   escape_hostsem remove ID    (natively) remove it
 *   escape_hostsem probe KEY ID (under sysvisor) try to reach the host set by
 *                                key, by id and by table index, and look for
 *                                KEY in /proc/sysvipc/sem by every path we
 *                                know: directly (the supervisor serves its own
 *                                view), through symlinks, through a directory
 *                                fd, through /proc/self/root, and opened by
 *                                io_uring (which seccomp never sees).
 * The probe prints one line per attempt.
 */
#include "common.h"
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static long key;

/* Does the text of this open file list KEY in its first column? */
static const char *lists_key(int fd)
{
	if (fd < 0)
		return res(-1, errno);
	FILE *f = fdopen(fd, "r");
	if (!f)
		return "fdopen failed";
	char line[512];
	int found = 0, lines = 0;
	while (fgets(line, sizeof line, f)) {
		lines++;
		if (line[strspn(line, " ")] != 'k' && atol(line) == key)
			found = 1;
	}
	fclose(f);
	if (lines == 0)
		return "empty";
	return found ? "YES (host set visible)" : "no";
}

static void via(const char *how, int fd)
{
	say("key listed via %s: %s", how, lists_key(fd));
}

/* openat(AT_FDCWD, path, O_RDONLY) submitted through io_uring; the fd or -1 with errno. */
static int uring_open(const char *path)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	int ring = (int)syscall(SYS_io_uring_setup, 4, &p);
	if (ring < 0)
		return -1;
	size_t sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sqsz = cqsz = sqsz > cqsz ? sqsz : cqsz;
	char *sq = mmap(NULL, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	char *cq = (p.features & IORING_FEAT_SINGLE_MMAP) ? sq
		   : mmap(NULL, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
	struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		close(ring);
		errno = ENOMEM;
		return -1;
	}
	unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
	unsigned mask = *(unsigned *)(sq + p.sq_off.ring_mask);
	unsigned *array = (unsigned *)(sq + p.sq_off.array);
	unsigned t = *tail;
	struct io_uring_sqe *e = &sqes[t & mask];
	memset(e, 0, sizeof *e);
	e->opcode = IORING_OP_OPENAT;
	e->fd = AT_FDCWD;
	e->addr = (unsigned long)path;
	e->open_flags = O_RDONLY;
	array[t & mask] = t & mask;
	__atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
		int e2 = errno;
		close(ring);
		errno = e2;
		return -1;
	}
	unsigned *head = (unsigned *)(cq + p.cq_off.head);
	unsigned cmask = *(unsigned *)(cq + p.cq_off.ring_mask);
	struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	int r = cqes[*head & cmask].res;
	__atomic_store_n(head, *head + 1, __ATOMIC_RELEASE);
	close(ring);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

static void probe(int hostid)
{
	CHECK("semget(KEY, 0, 0)", semget((key_t)key, 0, 0));
	CHECK("GETVAL(host id)", semctl(hostid, 0, GETVAL));
	struct semid_ds ds;
	union semun a = { .buf = &ds };
	CHECK("IPC_STAT(host id)", semctl(hostid, 0, IPC_STAT, a));
	CHECK("SETVAL(host id)", semctl(hostid, 0, SETVAL, (union semun){ .val = 7 }));
	CHECK("semop(host id)", sop1(hostid, 0, -1, IPC_NOWAIT));
	CHECK("SEM_STAT_ANY(host index)", semctl(hostid & 0x7fff, 0, SEM_STAT_ANY, a));
	int found = 0;
	for (int i = 0; i < 32768; i++)
		if (semctl(i, 0, SEM_STAT_ANY, a) >= 0 && ds.sem_perm.__key == (key_t)key)
			found++;
	say("SEM_STAT_ANY over every index finds KEY: %s", found ? "YES" : "no");
	/* the sandbox's own set with the same key is a different set */
	int own = semget((key_t)key, 1, IPC_CREAT | IPC_EXCL | 0600);
	say("semget(KEY, IPC_CREAT|IPC_EXCL) in the sandbox: %s", resok(own, errno));
	if (own >= 0) {
		say("its value: %d (the host set holds 42)", getval(own, 0));
		semctl(own, 0, IPC_RMID);
	}

	via("/proc/sysvipc/sem", open("/proc/sysvipc/sem", O_RDONLY));
	via("//proc/./sysvipc/../sysvipc/sem", open("//proc/./sysvipc/../sysvipc/sem", O_RDONLY));
	via("/proc/self/root/proc/sysvipc/sem", open("/proc/self/root/proc/sysvipc/sem", O_RDONLY));
	via("/proc/thread-self/root/proc/sysvipc/sem", open("/proc/thread-self/root/proc/sysvipc/sem", O_RDONLY));
	int dir = open("/proc/sysvipc", O_RDONLY | O_DIRECTORY);
	via("openat(/proc/sysvipc dir fd, \"sem\")", openat(dir, "sem", O_RDONLY));
	/* paths through /proc/self and /dev/fd name the *caller's* cwd and fds */
	char devfd[64];
	snprintf(devfd, sizeof devfd, "/dev/fd/%d/sem", dir);
	via("/dev/fd/N/sem (N a dir fd of /proc/sysvipc)", open(devfd, O_RDONLY));
	snprintf(devfd, sizeof devfd, "/proc/self/fd/%d/sem", dir);
	via("/proc/self/fd/N/sem", open(devfd, O_RDONLY));
	close(dir);
	char cwd[512];
	if (!getcwd(cwd, sizeof cwd))
		die("getcwd");
	TRY(chdir("/proc/sysvipc"));
	via("\"sem\" relative to cwd /proc/sysvipc", open("sem", O_RDONLY));
	via("/proc/self/cwd/sem with cwd /proc/sysvipc", open("/proc/self/cwd/sem", O_RDONLY));
	TRY(chdir(cwd));
	char tmp[] = "/tmp/escape-hostsem-XXXXXX";
	if (!mkdtemp(tmp))
		die("mkdtemp");
	char l1[64], l2[80], l3[64];
	snprintf(l1, sizeof l1, "%s/sem", tmp);
	snprintf(l2, sizeof l2, "%s/semaphores", tmp);
	snprintf(l3, sizeof l3, "%s/sysvipc", tmp);
	TRY(symlink("/proc/sysvipc/sem", l1));
	TRY(symlink("/proc/sysvipc/sem", l2));
	TRY(symlink("/proc/sysvipc", l3));
	via("a symlink named \"sem\"", open(l1, O_RDONLY));
	via("a symlink named \"semaphores\"", open(l2, O_RDONLY));
	char l4[96];
	snprintf(l4, sizeof l4, "%s/sem", l3);
	via("a symlink to the /proc/sysvipc directory", open(l4, O_RDONLY));
	via("io_uring openat of /proc/sysvipc/sem", uring_open("/proc/sysvipc/sem"));
	via("io_uring openat of the \"semaphores\" symlink", uring_open(l2));

	/*
	 * /proc/sys/kernel/sem: root's writes change the sandbox's limits. A write
	 * through a symlink with another name is not recognised by the supervisor:
	 * it must land in the sandbox's private IPC namespace, never on the host
	 * (the test harness compares the host's kernel.sem before and after, and
	 * puts it back if it changed).
	 */
	char l5[80];
	snprintf(l5, sizeof l5, "%s/limits", tmp);
	TRY(symlink("/proc/sys/kernel/sem", l5));
	long sb[4], seen[4];
	if (read_kernel_sem(sb) == 4) {
		FILE *f = fopen(l5, "r");
		int nh = f ? fscanf(f, "%ld %ld %ld %ld", &seen[0], &seen[1], &seen[2], &seen[3]) : 0;
		if (f)
			fclose(f);
		FILE *w = fopen("/proc/sys/kernel/sem", "w");
		if (w) {
			fprintf(w, "%ld %ld %ld %ld\n", sb[0], sb[1], sb[2] - 1, sb[3]);
			fclose(w);
		}
		long now[4];
		read_kernel_sem(now);
		say("sandbox semopm set apart through /proc/sys/kernel/sem: %s", yesno(now[2] == sb[2] - 1));
		if (nh == 4) {
			FILE *w2 = fopen(l5, "w");
			int wrote = w2 && fprintf(w2, "%ld %ld %ld %ld\n", seen[0], seen[1], seen[2] - 3, seen[3]) > 0;
			int closed = w2 && fclose(w2) == 0;
			say("write of semopm-3 through a symlink named \"limits\": %s", wrote && closed ? "ok" : res(-1, errno));
		}
	}
	unlink(l1);
	unlink(l2);
	unlink(l3);
	unlink(l5);
	rmdir(tmp);
}

int main(int argc, char **argv)
{
	setup();
	if (argc < 3)
		die("usage: escape_hostsem create KEY | remove ID | probe KEY ID");
	if (!strcmp(argv[1], "create")) {
		key = atol(argv[2]);
		int id = semget((key_t)key, 1, IPC_CREAT | IPC_EXCL | 0600);
		if (id < 0)
			die("semget");
		setval(id, 0, 42);
		printf("id %d\n", id);
		return 0;
	}
	if (!strcmp(argv[1], "remove"))
		return semctl(atoi(argv[2]), 0, IPC_RMID) < 0 ? 1 : 0;
	if (!strcmp(argv[1], "probe") && argc == 4) {
		key = atol(argv[2]);
		probe(atoi(argv[3]));
		say("done");
		return 0;
	}
	die("bad arguments");
}
