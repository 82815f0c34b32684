/*
 * semstorm N [l] - N semaphore calls (and, with 'l', file-lock calls) from
 * one process and short-lived children, cycling through the limits: sets
 * created until ENOSPC and removed again, SEM_UNDO operations on every set
 * (undo entries made and dropped), children that exit with undo pending,
 * locks taken until ENOLCK ([locks] max) and released. Nothing is compared
 * with native: the harness watches the supervisor's memory while this runs,
 * and its state afterwards. Prints a summary.
 */
#include "../c/common.h"
#include <sys/file.h>

static uint64_t rng = 88172645463325252ULL;
static uint32_t rn(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

#define MAXSETS 40000
static int ids[MAXSETS], nsem[MAXSETS];
static int nids;

static void hold(const char *what)
{
	const char *h = getenv("SEMSTORM_HOLD");
	if (!h || strcmp(h, "1") != 0)
		return;
	say("holding: %s", what);
	char c;
	while (read(0, &c, 1) < 0 && errno == EINTR)
		;
}

static int fill(int sets, int nsems)
{
	static unsigned short vals[65536];
	static struct sembuf ops[65536];
	hold("before");
	for (int i = 0; i < nsems; i++) {
		vals[i] = (unsigned short)(1 + i % 7);
		ops[i] = (struct sembuf){ (unsigned short)i, -1, IPC_NOWAIT };
	}
	int made = 0;
	for (int k = 0; k < sets && k < MAXSETS; k++) {
		int id = semget(IPC_PRIVATE, nsems, IPC_CREAT | 0600);
		if (id < 0)
			break;
		ids[nids++] = id;
		union semun a = { .array = vals };
		if (semctl(id, 0, SETALL, a) < 0)
			die("SETALL");
		for (int i = 0; i < nsems; i += 32)
			if (semop(id, ops + i, (size_t)(nsems - i < 32 ? nsems - i : 32)) < 0)
				die("semop");
		made++;
	}
	say("fill: %d sets of %d semaphores", made, nsems);
	hold("filled");
	for (int k = 0; k < nids; k++)
		semctl(ids[k], 0, IPC_RMID);
	say("done");
	return 0;
}

int main(int argc, char **argv)
{
	setup();
	alarm(0);
	if (argc == 4 && !strcmp(argv[1], "fill"))
		return fill(atoi(argv[2]), atoi(argv[3]));
	if (argc < 2)
		die("usage: semstorm N [l] | semstorm fill SETS NSEMS");
	long n = atol(argv[1]);
	int locks = argc > 2 && strchr(argv[2], 'l');
	long v[4];
	if (read_kernel_sem(v) != 4)
		die("read /proc/sys/kernel/sem");
	int fd = -1, ofd = -1;
	if (locks) {
		fd = open("semstorm.lock", O_RDWR | O_CREAT | O_TRUNC, 0600);
		ofd = open("semstorm.lock", O_RDWR);
		if (fd < 0 || ofd < 0)
			die("open semstorm.lock");
	}
	long enospc = 0, enolck = 0, ok = 0, fail = 0, children = 0;
	for (long i = 0; i < n; i++) {
		int c = (int)rn(100);
		long r;
		if (c < 15 || nids == 0) {
			r = semget(IPC_PRIVATE, 1 + (int)rn(8), IPC_CREAT | 0600);
			if (r >= 0) {
				if (nids < MAXSETS) {
					ids[nids] = (int)r;
					struct semid_ds ds;
					union semun a = { .buf = &ds };
					semctl((int)r, 0, IPC_STAT, a);
					nsem[nids++] = (int)ds.sem_nsems;
				} else {
					semctl((int)r, 0, IPC_RMID);
				}
			} else if (errno == ENOSPC) {
				enospc++;
				/* table full: empty half of it */
				for (int k = nids / 2; k < nids; k++)
					semctl(ids[k], 0, IPC_RMID);
				nids /= 2;
			}
		} else if (c < 20) {
			int k = (int)rn(nids);
			r = semctl(ids[k], 0, IPC_RMID);
			ids[k] = ids[--nids];
			nsem[k] = nsem[nids];
		} else if (c < 60) {
			int k = (int)rn(nids);
			struct sembuf b = { (unsigned short)rn(nsem[k]), (short)(rn(2) ? 1 : -1), SEM_UNDO | IPC_NOWAIT };
			r = semop(ids[k], &b, 1);
		} else if (c < 70) {
			int k = (int)rn(nids);
			union semun a = { .val = (int)rn(5) };
			r = semctl(ids[k], (int)rn(nsem[k]), SETVAL, a);
		} else if (c < 71 && i % 50 == 0) {
			/* a child with undo pending on a few sets */
			int ks[4];
			for (int j = 0; j < 4; j++)
				ks[j] = (int)rn(nids);
			pid_t p = fork();
			if (p == 0) {
				for (int j = 0; j < 4; j++) {
					struct sembuf b = { 0, 1, SEM_UNDO | IPC_NOWAIT };
					semop(ids[ks[j]], &b, 1);
				}
				_exit(0);
			}
			int st;
			while (waitpid(p, &st, 0) < 0 && errno == EINTR)
				;
			children++;
			r = 0;
		} else if (locks && c < 90) {
			struct flock f = { .l_type = rn(4) ? F_WRLCK : F_UNLCK, .l_whence = SEEK_SET,
					   .l_start = 2 * (off_t)rn(8000), .l_len = 1 };
			int ofdlock = rn(4) == 0;
			r = fcntl(ofdlock ? ofd : fd, ofdlock ? F_OFD_SETLK : F_SETLK, &f);
			if (r < 0 && errno == ENOLCK) {
				enolck++;
				struct flock u = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
				fcntl(fd, F_SETLK, &u);
				fcntl(ofd, F_OFD_SETLK, &u);
			}
		} else if (locks && c < 95) {
			r = flock(rn(2) ? fd : ofd, (rn(3) == 0 ? LOCK_UN : rn(2) ? LOCK_SH : LOCK_EX) | LOCK_NB);
		} else {
			int k = (int)rn(nids);
			r = semctl(ids[k], (int)rn(nsem[k]), GETVAL);
		}
		if (r < 0)
			fail++;
		else
			ok++;
	}
	for (int k = 0; k < nids; k++)
		semctl(ids[k], 0, IPC_RMID);
	if (locks) {
		close(fd);
		close(ofd);
		unlink("semstorm.lock");
	}
	say("storm: %ld calls, %ld children; ENOSPC seen: %s; ENOLCK seen: %s", n, children, yesno(enospc > 0),
	    locks ? yesno(enolck > 0) : "-");
	(void)ok;
	(void)fail;
	say("done");
	return 0;
}
