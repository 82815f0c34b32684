/*
 * learn_prog.c - a program for `sysvisor learn` to observe: it reads a file,
 * locks it, creates semaphore sets and may run another program, printing
 * one line per step so a learned run and its rerun compare byte for byte.
 *
 *   learn_prog SETS FILE [PROGRAM]
 *
 * SETS: IPC_PRIVATE sets of 2 semaphores to create (each gets one semop of
 * 2 operations), all removed at the end. FILE: read (its first line is
 * printed) and read-locked with fcntl. PROGRAM: run in a child with execv;
 * its exit status, or the errno of the exec, is printed.
 */
#include "common.h"

#define SETS_MAX 32

int main(int argc, char **argv)
{
	setup();
	if (argc < 3 || argc > 4)
		die("usage: learn_prog SETS FILE [PROGRAM]");
	int sets = atoi(argv[1]);
	if (sets < 0 || sets > SETS_MAX)
		die("SETS must be 0..%d", SETS_MAX);

	int fd = open(argv[2], O_RDONLY);
	if (fd < 0) {
		say("open file: %s", res(-1, errno));
	} else {
		char line[128] = "";
		ssize_t n = read(fd, line, sizeof line - 1);
		if (n < 0)
			die("read %s", argv[2]);
		line[n] = 0;
		line[strcspn(line, "\n")] = 0;
		say("file says: %s", line);
		struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
		say("read lock: %s", res(fcntl(fd, F_SETLK, &fl), errno));
		close(fd);
	}

	for (int i = 0; i < sets; i++) {
		int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
		if (id < 0) {
			say("semget %d: %s", i + 1, res(-1, errno));
			continue;
		}
		g_sets[g_nsets++] = id;
		struct sembuf ops[2] = { { 0, 1, 0 }, { 1, 1, 0 } };
		say("semget %d: ok, semop: %s", i + 1, res(semop(id, ops, 2), errno));
	}

	if (argc == 4) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			die("pipe2");
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			g_is_child = 1;
			char *args[] = { argv[3], NULL };
			execv(argv[3], args);
			int e = errno;
			if (write(p[1], &e, sizeof e) != sizeof e)
				_exit(97);
			_exit(127);
		}
		close(p[1]);
		int e = 0, status = 0;
		ssize_t got = read(p[0], &e, sizeof e);
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid");
		if (got == sizeof e)
			say("exec: %s", res(-1, e));
		else
			say("exec: ran, exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}

	for (int i = 0; i < g_nsets; i++)
		if (semctl(g_sets[i], 0, IPC_RMID) < 0)
			die("semctl IPC_RMID");
	g_nsets = 0;
	return 0;
}
