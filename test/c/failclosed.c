/*
 * failclosed OUTFILE: print "ready", wait until stdin reaches EOF (the test
 * kills the supervisor first), then try semget and write the outcome to
 * OUTFILE (opened first: with the supervisor gone every notified syscall,
 * open included, fails with ENOSYS and never reaches the host's IPC).
 */
#include "common.h"

int main(int argc, char **argv)
{
	if (argc != 2)
		die("usage: failclosed OUTFILE");
	FILE *f = fopen(argv[1], "w");
	if (!f)
		die("fopen %s", argv[1]);
	printf("ready\n");
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof buf) > 0)
		;
	int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	int err = errno;
	if (id >= 0)
		semctl(id, 0, IPC_RMID);
	fprintf(f, "semget: %s\n", id >= 0 ? "created a set" : errname(err));
	fclose(f);
	return 0;
}
