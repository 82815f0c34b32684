/*
 * Process trees: a fork chain 24 deep where each level holds a SEM_UNDO
 * adjustment until it exits; vfork + exec of this program, whose undo
 * applies when the exec'd image exits; an orphan that outlives its parent
 * and whose undo still applies at its own exit.
 */
#include "common.h"

static int id;

static void sem_step(unsigned short num, short v, short flg)
{
	struct sembuf b = { num, v, flg };
	while (semop(id, &b, 1) < 0)
		if (errno != EINTR)
			die("semop: %s", errname(errno));
}

static void __attribute__((noreturn)) chain(int depth)
{
	sem_step(0, 1, SEM_UNDO); /* held until this level exits */
	sem_step(1, 1, 0);        /* counts levels, kept */
	if (depth > 1) {
		pid_t pid = fork();
		if (pid < 0)
			_exit(2);
		if (pid == 0)
			chain(depth - 1);
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			_exit(3);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "exec-child") == 0) {
		id = atoi(argv[2]);
		sem_step(2, 5, SEM_UNDO);
		sem_step(3, 1, 0);
		return 0;
	}
	alarm(60);
	id = semget(IPC_PRIVATE, 5, IPC_CREAT | 0600);
	if (id < 0)
		die("semget");

	pid_t top = fork();
	if (top == 0)
		chain(24);
	int st;
	waitpid(top, &st, 0);
	say("chain exit status: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	say("chain levels counted: %d", getval(id, 1));
	say("every level's undo applied: %s", getval(id, 0) == 0 ? "yes" : "no");

	char idtext[16];
	snprintf(idtext, sizeof idtext, "%d", id);
	pid_t v = vfork();
	if (v == 0) {
		execl("/proc/self/exe", argv[0], "exec-child", idtext, (char *)NULL);
		_exit(127);
	}
	waitpid(v, &st, 0);
	say("vfork+exec child: exit %d, ran %d time, undo applied: %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
	    getval(id, 3), getval(id, 2) == 0 ? "yes" : "no");

	/* the orphan: the middle process exits at once; the grandchild holds
	 * undo on #4 a while longer, which we watch with GETVAL */
	pid_t middle = fork();
	if (middle == 0) {
		if (fork() == 0) {
			sem_step(4, 3, SEM_UNDO);
			usleep(100000); /* outlive the middle process */
			_exit(0);
		}
		_exit(0);
	}
	waitpid(middle, &st, 0);
	int seen = 0;
	for (int i = 0; i < 200 && !seen; i++) {
		if (getval(id, 4) == 3)
			seen = 1;
		else
			usleep(5000);
	}
	int undone = 0;
	for (int i = 0; i < 400 && !undone; i++) {
		if (getval(id, 4) == 0)
			undone = 1;
		else
			usleep(5000);
	}
	say("orphan held its adjustment after its parent died: %s", seen ? "yes" : "no");
	say("orphan's undo applied at its exit: %s", undone ? "yes" : "no");
	semctl(id, 0, IPC_RMID);
	say("done");
	return 0;
}
