/*
 * procmax - [process] max: how many processes can the sandbox hold at once?
 *
 * procmax N [ROUNDS]: first ROUNDS-1 times fork sleeping children until fork
 * fails or N exist, print how many, and kill them all; then fork children that only sleep (pause, never a notified call)
 * until fork fails or N exist, then try vfork, posix_spawn (clone3 in
 * glibc) and a thread at the limit; end one child and fork again; remove
 * every child. With PROCMAX_HOLD=1 it prints "holding: full" and reads a
 * byte from stdin when the children exist, so a harness can dump the
 * supervisor's state then.
 */
#include "../c/common.h"
#include <pthread.h>
#include <spawn.h>

extern char **environ;

static void *nothing(void *arg)
{
	return arg;
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
	for (int i = 0; i < made; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	}
	say("done");
	return 0;
}
