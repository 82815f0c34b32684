/* w_lockpp N: two processes hand a baton back and forth through whole-file
 * POSIX write locks (F_SETLKW, F_SETLK F_UNLCK) on three private temp files
 * L0, L1, L2; N hand-offs, ns_per_op is per hand-off.
 *
 * One lock cannot do it: POSIX locks are not fair, so a process that unlocks
 * and asks again usually gets the lock back before the woken waiter runs.
 * With three, each process holds one file and, on its turn, waits for the
 * next one (i+1 mod 3) and then unlocks the one it held:
 *   parent holds L0, child holds L2 (taken before the clock starts);
 *   parent turn k: lock L(k mod 3) [waits for the child's turn k-1], unlock L(k-1)
 *   child  turn k: lock L(k-1 mod 3) [waits for the parent's turn k], unlock L(k-2)
 * so the turns alternate strictly (P1 C1 P2 C2 ...) and almost every lock call
 * waits for a wake-up. Each process holds one lock while asking for another,
 * never the one the other asks for, so there is no cycle (no EDEADLK).
 * The parent checks a turn counter in shared memory. alarm(60) in both and
 * PR_SET_PDEATHSIG in the child: a stuck run dies instead of hanging. */
#include "workload.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>

static int fds[3];

static void take(int i)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	while (fcntl(fds[i], F_SETLKW, &lk) < 0)
		if (errno != EINTR)
			DIE("fcntl(L%d, F_SETLKW, F_WRLCK)", i);
}

static void drop(int i)
{
	struct flock un = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	if (fcntl(fds[i], F_SETLK, &un) < 0)
		DIE("fcntl(L%d, F_SETLK, F_UNLCK)", i);
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 200000);
	long rounds = (n + 1) / 2, total = warmup(rounds) + rounds;
	alarm(60);
	for (int i = 0; i < 3; i++) {
		char path[] = "/tmp/sysvisor-w_lockpp-XXXXXX";
		fds[i] = mkstemp(path);
		if (fds[i] < 0)
			DIE("mkstemp(%s)", path);
		unlink(path);
	}
	volatile long *turns = mmap(NULL, sizeof(long) * 2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (turns == MAP_FAILED)
		DIE("mmap");
	int ready[2];
	if (pipe(ready) < 0)
		DIE("pipe");
	take(0);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		DIE("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(3);
		alarm(60);
		take(2);
		if (write(ready[1], "x", 1) != 1)
			DIE("write(ready)");
		for (long k = 1; k <= total; k++) {
			take((int)((k + 2) % 3));  /* L(k-1): released by the parent's turn k */
			if (turns[0] != k)
				DIE("child turn %ld after %ld parent turns", k, turns[0]);
			turns[1] = k;
			drop((int)((k + 1) % 3)); /* L(k-2) */
		}
		_exit(0);
	}
	char c;
	if (read(ready[0], &c, 1) != 1)
		DIE("read(ready)");
	double t0 = 0;
	for (long k = 1; k <= total; k++) {
		if (k == total - rounds + 1)
			t0 = now_ns(); /* the warm-up turns are done */
		take((int)(k % 3));           /* L(k): released by the child's turn k-1 */
		if (turns[1] != k - 1)
			DIE("parent turn %ld after %ld child turns", k, turns[1]);
		turns[0] = k;
		drop((int)((k + 2) % 3));     /* L(k-1) */
	}
	reap_children();
	double t1 = now_ns();
	if (turns[1] != total)
		DIE("the child made %ld turns, not %ld", turns[1], total);
	report(t1 - t0, (double)rounds * 2);
	return 0;
}
