/*
 * procmax - [process] max: how many processes can the sandbox hold at once?
 *
 * procmax N [ROUNDS]: ROUNDS times, fork children that only sleep (pause,
 * never a notified call) until fork fails or N exist and print how many
 * (killing them all between rounds); then try vfork, posix_spawn (clone3 in
 * glibc, which falls back to clone on the filter's ENOSYS) and a thread at
 * the limit; end one child and fork again; end another, let a second thread
 * fork a child that exits at once and reap it, and fork again right after;
 * remove every child. With PROCMAX_HOLD=1 it prints "holding: full" and
 * reads a byte from stdin once the last round's children exist, so a harness
 * can dump the supervisor's state then.
 */
#include "../c/common.h"
#include <pthread.h>
#include <spawn.h>

extern char **environ;

static void *nothing(void *arg)
{
	return arg;
}

static int reaped[2], done_forking[2];

/* Fork a child that exits at once, reap it, send our tid (-1 if the fork
 * failed) through `reaped`, and sleep in read until the main thread forked. */
static void *fork_and_reap(void *arg)
{
	pid_t y = fork();
	if (y == 0)
		_exit(0);
	if (y > 0)
		waitpid(y, NULL, 0);
	pid_t me = y > 0 ? gettid() : -1;
	char c;
	if (write(reaped[1], &me, sizeof me) != sizeof me || read(done_forking[0], &c, 1) != 1)
		die("reaped/done_forking");
	return arg;
}

/* Wait until thread `tid` of this process sleeps (state S in /proc). */
static void wait_asleep(pid_t tid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	for (;;) {
		FILE *f = fopen(path, "r");
		if (f == NULL)
			die("fopen %s", path);
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		char *end = strrchr(buf, ')');
		if (end != NULL && end[1] == ' ' && end[2] == 'S')
			return;
	}
}

static pid_t sleeper(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

int main(int argc, char **argv)
{
	setup();
	if (argc < 2)
		die("usage: procmax N");
	int n = atoi(argv[1]);
	int rounds = argc > 2 ? atoi(argv[2]) : 1;
	pid_t *kids = calloc((size_t)n + 1, sizeof *kids);
	int made, err;
	for (int round = 1;; round++) {
		made = 0;
		err = 0;
		while (made < n) {
			pid_t pid = sleeper();
			if (pid < 0) {
				err = errno;
				break;
			}
			kids[made++] = pid;
		}
		say("fork: %d children, then %s", made, err ? errname(err) : "no failure");
		if (round >= rounds)
			break;
		for (int i = 0; i < made; i++) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	}

	if (getenv("PROCMAX_HOLD") && !strcmp(getenv("PROCMAX_HOLD"), "1")) {
		say("holding: full");
		char c;
		if (read(0, &c, 1) != 1)
			die("read stdin");
	}

	pid_t v = vfork();
	if (v == 0)
		_exit(0);
	say("vfork at the limit: %s", v < 0 ? errname(errno) : "ok");
	if (v > 0)
		waitpid(v, NULL, 0);

	char *args[] = { "/bin/true", NULL };
	pid_t s;
	int rc = posix_spawn(&s, "/bin/true", NULL, NULL, args, environ);
	say("posix_spawn at the limit: %s", rc ? errname(rc) : "ok");
	if (rc == 0)
		waitpid(s, NULL, 0);

	pthread_t th;
	rc = pthread_create(&th, NULL, nothing, NULL);
	say("pthread_create at the limit: %s", rc ? errname(rc) : "ok");
	if (rc == 0)
		pthread_join(th, NULL);

	if (made > 0) {
		kill(kids[made - 1], SIGKILL);
		waitpid(kids[made - 1], NULL, 0);
		pid_t again = sleeper();
		say("fork after one child ended: %s", again < 0 ? errname(errno) : "ok");
		kids[made - 1] = again > 0 ? again : 0;
	}
	if (made > 1) {
		/* One place free: another thread takes it with a child that exits
		 * at once, reaps it and tells us; once that thread sleeps elsewhere,
		 * our fork right after fits (within the 2 ms before the
		 * supervisor's own scan would have settled it). */
		kill(kids[made - 2], SIGKILL);
		waitpid(kids[made - 2], NULL, 0);
		if (pipe(reaped) < 0 || pipe(done_forking) < 0 || pthread_create(&th, NULL, fork_and_reap, NULL) != 0)
			die("pipe/pthread_create");
		pid_t t = 0;
		if (read(reaped[0], &t, sizeof t) != sizeof t)
			die("read reaped");
		if (t > 0)
			wait_asleep(t);
		pid_t again = sleeper();
		say("fork right after another thread's child came and went: %s",
		    t < 0 ? "the thread's fork failed" : again < 0 ? errname(errno) : "ok");
		char c = 0;
		if (write(done_forking[1], &c, 1) != 1)
			die("write done_forking");
		pthread_join(th, NULL);
		kids[made - 2] = again > 0 ? again : 0;
	}
	for (int i = 0; i < made; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	}
	say("done");
	return 0;
}
