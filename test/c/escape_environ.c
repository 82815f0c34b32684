/*
 * escape_environ [PID...] - the environments of processes outside the
 * sandbox (issue 20, finding 5).
 *
 * The test puts SYSVISOR_TEST_SECRET= in the environment of the supervisor
 * and of a host process of the same uid, and passes their pids as the host
 * sees them. The program reads /proc/PPID/environ (natively, or without a
 * PID namespace, the supervisor's), /proc/PID/environ of each pid given, and
 * every /proc/N/environ it can list, and says where it found the marker.
 * Meant to run under sysvisor only.
 */
#include "common.h"
#include <dirent.h>

#define SECRET "SYSVISOR_TEST_SECRET="

/* "secret", "no secret", or the errno name of the failed open/read. */
static const char *environ_of(const char *pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%s/environ", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return res(-1, errno);
	static char buf[1 << 16];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return res(-1, e);
	buf[n] = 0;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
		if (strncmp(buf + i, SECRET, strlen(SECRET)) == 0)
			return "secret";
	return "no secret";
}

int main(int argc, char **argv)
{
	setup();
	char ppid[16];
	snprintf(ppid, sizeof ppid, "%d", getppid());
	say("/proc/PPID/environ: %s", environ_of(ppid));
	for (int i = 1; i < argc; i++)
		say("/proc/ARG%d/environ: %s", i, environ_of(argv[i]));
	DIR *d = opendir("/proc");
	if (!d)
		die("opendir /proc: %s", errname(errno));
	int listed = 0, secrets = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		listed++;
		if (strcmp(environ_of(e->d_name), "secret") == 0)
			secrets++;
	}
	closedir(d);
	say("processes listed in /proc: %s", listed > 0 ? "some" : "none");
	say("environs in /proc with the secret: %d", secrets);
	say("done");
	return 0;
}
