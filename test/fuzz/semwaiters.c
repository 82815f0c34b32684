/*
 * semwaiters P ROUNDS [l] - P processes asleep in the supervisor at once,
 * ROUNDS times. Each round: P children block, most in semop (some with
 * SEM_UNDO, some in semtimedop with a long timeout), with 'l' every third
 * one in F_SETLKW on a byte the parent holds. Once they all sleep, half of
 * the semaphore sleepers are woken by SETVAL, the other half are SIGKILLed,
 * and the lock sleepers get the lock one after another when the parent
 * lets go. Then nobody may be left counted as a sleeper.
 *
 * With SEMWAITERS_HOLD=1 the program prints "holding" and reads a byte from
 * stdin when everybody sleeps (round 1) and after each round, so a harness
 * can measure the supervisor then.
 */
#include "../c/common.h"

static int hold;

static void pause_for_harness(const char *what)
{
	if (!hold)
		return;
	say("holding: %s", what);
	char c;
	while (read(0, &c, 1) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	setup();
	alarm(0);
	if (argc < 3)
		die("usage: semwaiters P ROUNDS [l]");
	int P = atoi(argv[1]), rounds = atoi(argv[2]);
	int locks = argc > 3 && strchr(argv[3], 'l');
	hold = getenv("SEMWAITERS_HOLD") && !strcmp(getenv("SEMWAITERS_HOLD"), "1");
	pid_t *kids = calloc((size_t)P, sizeof *kids);
	int *kind = calloc((size_t)P, sizeof *kind);
	int fd = -1;
	if (locks) {
		fd = open("semwaiters.lock", O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			die("open");
	}
	for (int round = 1; round <= rounds; round++) {
		int id = sem_private(1);
		if (locks) {
			struct flock f = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
			TRY(fcntl(fd, F_SETLK, &f));
		}
		int nsem = 0, nlock = 0;
		for (int i = 0; i < P; i++) {
			kind[i] = locks && i % 3 == 2 ? 2 : i % 2; /* 0 semop, 1 semtimedop + SEM_UNDO, 2 F_SETLKW */
			if (kind[i] == 2)
				nlock++;
			else
				nsem++;
			pid_t p = fork();
			if (p < 0)
				die("fork %d", i);
			if (p == 0) {
				if (kind[i] == 2) {
					int f2 = open("semwaiters.lock", O_RDWR);
					struct flock f = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
					_exit(fcntl(f2, F_SETLKW, &f) == 0 ? 0 : 1);
				}
				struct sembuf b = { 0, -1, (short)(kind[i] ? SEM_UNDO : 0) };
				struct timespec ts = { 600, 0 };
				_exit((kind[i] ? semtimedop(id, &b, 1, &ts) : semop(id, &b, 1)) == 0 ? 0 : 1);
			}
			kids[i] = p;
		}
		int n = 0;
		for (int t = 0; t < 30000 && (n = semctl(id, 0, GETNCNT)) < nsem; t++)
			msleep(1);
		msleep(nlock ? 300 : 10); /* lock sleepers: no counter to poll */
		say("round %d: %d semaphore sleepers counted (of %d), %d lock sleepers", round, n, nsem, nlock);
		if (round == 1)
			pause_for_harness("everybody asleep");
		/* wake half of the semaphore sleepers, kill the rest */
		int wake = nsem / 2;
		setval(id, 0, wake);
		int woken = 0, killed = 0, locked = 0, other = 0;
		for (int t = 0; t < 10000 && semctl(id, 0, GETNCNT) > nsem - wake; t++)
			msleep(1);
		for (int i = 0; i < P; i++)
			if (kind[i] != 2)
				kill(kids[i], SIGKILL); /* the woken ones are gone already or exiting */
		if (locks) {
			struct flock u = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
			TRY(fcntl(fd, F_SETLK, &u));
		}
		for (int i = 0; i < P; i++) {
			int st;
			while (waitpid(kids[i], &st, 0) < 0)
				if (errno != EINTR)
					die("waitpid");
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				kind[i] == 2 ? locked++ : woken++;
			else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
				killed++;
			else
				other++;
		}
		/* how many woke is a race (an exiting SEM_UNDO sleeper gives its unit back and wakes the next) */
		say("round %d: semaphore sleepers woken or killed: %d of %d, lock sleepers that got the lock: %d of %d, "
		    "other ends: %d; ncnt %d, zcnt %d",
		    round, woken + killed, nsem, locked, nlock, other, getncnt(id, 0), getzcnt(id, 0));
		sem_rm(id);
		char what[32];
		snprintf(what, sizeof what, "round %d over", round);
		pause_for_harness(what);
	}
	if (locks) {
		close(fd);
		unlink("semwaiters.lock");
	}
	say("done");
	return 0;
}
