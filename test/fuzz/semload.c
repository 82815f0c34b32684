/*
 * semload P OPS KILLS [l] - P workers, each committing OPS two-semaphore
 * increments ({i +1, P+i +1} in one semop), every 16th step a critical
 * section under a SEM_UNDO mutex, and with 'l' every 16th step one under an
 * F_SETLKW byte lock, while the parent SIGKILLs a random worker KILLS times
 * and starts a new one in its slot to finish the quota.
 *
 * Nothing may be lost: every worker records in shared memory what it
 * attempted (before the call) and what completed (after it), so whatever
 * the kills, completed <= value <= attempted; the two semaphores of a pair
 * always move together; the mutex is back to 1 (undo of killed holders);
 * the counters guarded by the mutex and by the lock are within
 * [done, attempted] (a lost update would fall below). Prints yes/no lines
 * (deterministic); the number of kills goes to stderr.
 */
#include "../c/common.h"
#include <sched.h>
#include <sys/mman.h>

#define MAXP 256
struct shared {
	long attempted[MAXP], completed[MAXP];
	long m_attempted, m_done, m_counter;
	long l_attempted, l_done;
};
static struct shared *sh;
static int P, OPS, locks, id;

static int semop_retry(struct sembuf *b, int n)
{
	int r;
	while ((r = semop(id, b, (size_t)n)) < 0 && errno == EINTR)
		;
	return r;
}

static void worker(int i)
{
	int fd = locks ? open("semload.lock", O_RDWR) : -1;
	if (locks && fd < 0)
		_exit(3);
	long step = sh->completed[i];
	while (sh->completed[i] < OPS) {
		if (step % 16 == 0) {
			__atomic_fetch_add(&sh->m_attempted, 1, __ATOMIC_SEQ_CST);
			struct sembuf down = { (unsigned short)(2 * P), -1, SEM_UNDO };
			if (semop_retry(&down, 1) < 0)
				_exit(4);
			long c = sh->m_counter;
			sched_yield();
			sh->m_counter = c + 1;
			struct sembuf up = { (unsigned short)(2 * P), 1, SEM_UNDO };
			if (semop_retry(&up, 1) < 0)
				_exit(5);
			__atomic_fetch_add(&sh->m_done, 1, __ATOMIC_SEQ_CST);
		}
		if (locks && step % 16 == 8) {
			__atomic_fetch_add(&sh->l_attempted, 1, __ATOMIC_SEQ_CST);
			struct flock f = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 8 };
			while (fcntl(fd, F_SETLKW, &f) < 0)
				if (errno != EINTR)
					_exit(6);
			long c = 0;
			if (pread(fd, &c, sizeof c, 0) != sizeof c)
				_exit(7);
			sched_yield();
			c++;
			if (pwrite(fd, &c, sizeof c, 0) != sizeof c)
				_exit(8);
			f.l_type = F_UNLCK;
			if (fcntl(fd, F_SETLK, &f) < 0)
				_exit(9);
			__atomic_fetch_add(&sh->l_done, 1, __ATOMIC_SEQ_CST);
		}
		sh->attempted[i]++;
		struct sembuf pair[2] = { { (unsigned short)i, 1, 0 }, { (unsigned short)(P + i), 1, 0 } };
		if (semop_retry(pair, 2) < 0)
			_exit(10);
		sh->completed[i]++;
		step++;
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	setup();
	alarm(0);
	if (argc < 4)
		die("usage: semload P OPS KILLS [l]");
	P = atoi(argv[1]);
	OPS = atoi(argv[2]);
	int KILLS = atoi(argv[3]);
	locks = argc > 4 && strchr(argv[4], 'l');
	if (P < 1 || P > MAXP || OPS < 1 || OPS > 32767)
		die("bad arguments");
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	id = sem_private(2 * P + 1);
	setval(id, 2 * P, 1);
	if (locks) {
		int fd = open("semload.lock", O_RDWR | O_CREAT | O_TRUNC, 0600);
		long zero = 0;
		if (fd < 0 || pwrite(fd, &zero, sizeof zero, 0) != sizeof zero)
			die("semload.lock");
		close(fd);
	}
	pid_t w[MAXP];
	for (int i = 0; i < P; i++) {
		w[i] = fork();
		if (w[i] < 0)
			die("fork");
		if (w[i] == 0)
			worker(i);
	}
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	int kills = 0, alive = P, bad_exit = 0;
	while (alive > 0) {
		msleep(1 + (long)(rng % 4));
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		int st;
		pid_t r;
		while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
			for (int i = 0; i < P; i++)
				if (w[i] == r) {
					w[i] = 0;
					alive--;
					if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
						if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
							bad_exit++;
						/* killed (or failed): a new worker finishes the quota */
						if (sh->completed[i] < OPS) {
							w[i] = fork();
							if (w[i] < 0)
								die("fork");
							if (w[i] == 0)
								worker(i);
							alive++;
						}
					}
				}
		}
		if (kills < KILLS && alive > 0) {
			int i = (int)(rng % (uint64_t)P);
			if (w[i] > 0 && kill(w[i], SIGKILL) == 0)
				kills++;
		}
	}
	fprintf(stderr, "semload: %d kills\n", kills);
	int in_bounds = 1, pairs = 1, quota = 1;
	for (int i = 0; i < P; i++) {
		int a = getval(id, i), b = getval(id, P + i);
		if (a != b)
			pairs = 0;
		if (a < sh->completed[i] || a > sh->attempted[i])
			in_bounds = 0;
		if (sh->completed[i] < OPS)
			quota = 0;
	}
	say("load: %d workers x %d pair increments, %s", P, OPS, locks ? "with a lock section" : "semaphores only");
	say("every worker finished its quota: %s", yesno(quota));
	say("no worker failed a call: %s", yesno(bad_exit == 0));
	say("pairs moved together: %s", yesno(pairs));
	say("each counter within [completed, attempted]: %s", yesno(in_bounds));
	say("mutex back to 1: %s", yesno(getval(id, 2 * P) == 1));
	say("mutex-guarded counter within [done, attempted] (no lost update): %s",
	    yesno(sh->m_counter >= sh->m_done && sh->m_counter <= sh->m_attempted));
	int sleepers = 0;
	for (int i = 0; i < 2 * P + 1; i++)
		sleepers += getncnt(id, i) + getzcnt(id, i);
	say("sleepers left: %d", sleepers);
	if (locks) {
		int fd = open("semload.lock", O_RDWR);
		long c = -1;
		if (fd < 0 || pread(fd, &c, sizeof c, 0) != sizeof c)
			die("read semload.lock");
		say("lock-guarded counter within [done, attempted] (no lost update): %s",
		    yesno(c >= sh->l_done && c <= sh->l_attempted));
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		TRY(fcntl(fd, F_GETLK, &q));
		say("locks left: %s", q.l_type == F_UNLCK ? "none" : "some");
		close(fd);
		unlink("semload.lock");
	}
	sem_rm(id);
	say("done");
	return 0;
}
