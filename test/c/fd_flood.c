/*
 * fd_flood - a program that makes the supervisor hold fds: FLOODERS
 * processes, one after the other, each open /proc/sys/kernel/sem for
 * writing ATTEMPTS times and keep every fd (under sysvisor each open writer
 * is a pipe the supervisor holds). While they all hold theirs, another
 * process takes an OFD lock, makes a semop and reads the sysctl. Then the
 * flooders exit and one more writer opens.
 *
 *   fd_flood FLOODERS ATTEMPTS LOCKFILE
 *
 * Prints per flooder the first failure ("none" if every open succeeded),
 * then that of one more process taking OFD locks through ATTEMPTS
 * descriptions of LOCKFILE.many (each costs the supervisor a duplicate),
 * then the other process's results. Runs as root (raises RLIMIT_NOFILE).
 */
#include "common.h"
#include <sys/resource.h>

static void flood(int attempts, int report)
{
	alarm(0); /* held until the parent kills it, however long the others take */
	int first = 0;
	for (int i = 0; i < attempts; i++) {
		if (open("/proc/sys/kernel/sem", O_WRONLY) < 0) {
			first = errno;
			break;
		}
	}
	send_line(report, first == 0 ? "none" : errname(first));
	pause(); /* hold every fd until killed */
	_exit(0);
}

int main(int argc, char **argv)
{
	setup();
	alarm(600);
	if (argc != 4)
		die("usage: fd_flood FLOODERS ATTEMPTS LOCKFILE");
	int flooders = atoi(argv[1]), attempts = atoi(argv[2]);
	struct rlimit many = { (rlim_t)attempts + 64, (rlim_t)attempts + 64 };
	TRY(setrlimit(RLIMIT_NOFILE, &many));

	pid_t kids[MAX_TRACK];
	for (int i = 0; i < flooders && i < MAX_TRACK; i++) {
		int p[2];
		xpipe(p);
		kids[i] = xfork();
		if (kids[i] == 0) {
			close(p[0]);
			flood(attempts, p[1]);
		}
		close(p[1]);
		char line[64];
		say("flooder %d: first failure %s", i + 1, recv_line(p[0], line, sizeof line));
		close(p[0]);
	}

	/* One more holds OFD locks through as many descriptions (one byte each of LOCKFILE.many). */
	{
		int p[2];
		xpipe(p);
		pid_t locker = xfork();
		if (locker == 0) {
			close(p[0]);
			alarm(0);
			char many[4096];
			snprintf(many, sizeof many, "%s.many", argv[3]);
			int first = 0;
			for (int i = 0; i < attempts && first == 0; i++) {
				int fd = open(many, O_RDWR | O_CREAT, 0600);
				struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = i, .l_len = 1 };
				if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) < 0)
					first = errno;
			}
			send_line(p[1], first == 0 ? "none" : errname(first));
			pause();
			_exit(0);
		}
		if (flooders < MAX_TRACK)
			kids[flooders++] = locker;
		close(p[1]);
		char line[64];
		say("lock flooder: first failure %s", recv_line(p[0], line, sizeof line));
		close(p[0]);
	}

	/* Another process, while every flooder holds its fds. */
	int p[2];
	xpipe(p);
	pid_t other = xfork();
	if (other == 0) {
		close(p[0]);
		int fd = open(argv[3], O_RDWR | O_CREAT, 0600);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
		send_res(p[1], fd < 0 ? -1 : fcntl(fd, F_OFD_SETLK, &fl), errno);
		int id = semget(IPC_PRIVATE, 1, 0600);
		struct sembuf up = { 0, 1, 0 };
		send_res(p[1], id < 0 ? -1 : semop(id, &up, 1), errno);
		if (id >= 0)
			semctl(id, 0, IPC_RMID);
		char text[128] = "";
		FILE *f = fopen("/proc/sys/kernel/sem", "r");
		send_line(p[1], f != NULL && fgets(text, sizeof text, f) != NULL ? "read" : errname(errno));
		_exit(0);
	}
	close(p[1]);
	char line[64];
	say("other process: F_OFD_SETLK %s", recv_line(p[0], line, sizeof line));
	say("other process: semop %s", recv_line(p[0], line, sizeof line));
	say("other process: /proc/sys/kernel/sem %s", recv_line(p[0], line, sizeof line));
	close(p[0]);
	reap_ok(other);

	for (int i = 0; i < flooders && i < MAX_TRACK; i++) {
		kill(kids[i], SIGKILL);
		reap(kids[i]);
		untrack_kid(kids[i]);
	}
	int fd = open("/proc/sys/kernel/sem", O_WRONLY);
	say("after the flood: open for writing %s", resok(fd, errno));
	say("done");
	return 0;
}
