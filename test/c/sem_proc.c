/* /proc/sys/kernel/sem (4 tab-separated integers, equal to IPC_INFO) and
 * /proc/sysvipc/sem (header line, one line per set in the kernel's exact
 * format, gone after IPC_RMID). */
#include "common.h"

static char *slurp(const char *path, char *buf, size_t sz)
{
	int f = open(path, O_RDONLY);
	if (f < 0)
		die("open %s", path);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < sz && (r = read(f, buf + n, sz - 1 - n)) > 0)
		n += (size_t)r;
	close(f);
	buf[n] = 0;
	return buf;
}

/* the /proc/sysvipc/sem line of the set with this id, or NULL */
static char *find_line(char *text, int id)
{
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int k, i;
		if (sscanf(l, "%d %d", &k, &i) == 2 && i == id)
			return l;
	}
	return NULL;
}

static void expect_line(int id, char *line)
{
	struct semid_ds ds;
	union semun a = { .buf = &ds };
	TRY(semctl(id, 0, IPC_STAT, a));
	char want[256];
	snprintf(want, sizeof want, "%10d %10d  %4o %10u %5u %5u %5u %5u %10llu %10llu",
		 (int)ds.sem_perm.__key, id, (unsigned)ds.sem_perm.mode,
		 (unsigned)ds.sem_nsems, (unsigned)ds.sem_perm.uid,
		 (unsigned)ds.sem_perm.gid, (unsigned)ds.sem_perm.cuid,
		 (unsigned)ds.sem_perm.cgid, (unsigned long long)ds.sem_otime,
		 (unsigned long long)ds.sem_ctime);
	yes("line matches IPC_STAT in the kernel's format", line && strcmp(line, want) == 0);
	if (line && strcmp(line, want) != 0)
		fprintf(stderr, "got  [%s]\nwant [%s]\n", line, want);
}

int main(void)
{
	setup();
	static char buf[1 << 20];

	/* kernel.sem */
	slurp("/proc/sys/kernel/sem", buf, sizeof buf);
	long v[4];
	char tail[8] = "";
	int n = sscanf(buf, "%ld\t%ld\t%ld\t%ld%7[^0-9]", &v[0], &v[1], &v[2], &v[3], tail);
	yes("kernel.sem has 4 integers", n >= 4);
	int tabs = 0;
	for (char *p = buf; *p; p++)
		tabs += *p == '\t';
	yes("separated by 3 tabs, ends in newline",
	    tabs == 3 && strcmp(tail, "\n") == 0 && strchr(buf, ' ') == NULL);
	struct seminfo si;
	union semun ia = { .__buf = &si };
	TRY(semctl(0, 0, IPC_INFO, ia));
	yes("semmsl matches IPC_INFO", v[0] == si.semmsl);
	yes("semmns matches IPC_INFO", v[1] == si.semmns);
	yes("semopm matches IPC_INFO", v[2] == si.semopm);
	yes("semmni matches IPC_INFO", v[3] == si.semmni);

	/* sysvipc/sem */
	key_t key = test_key(1);
	int id = sem_new(key, 3, IPC_CREAT | IPC_EXCL | 0640);
	int pid_ = sem_private(1);
	slurp("/proc/sysvipc/sem", buf, sizeof buf);
	char *nl = strchr(buf, '\n');
	if (!nl) die("no header");
	*nl = 0;
	say("header: [%s]", buf);
	*nl = '\n';
	static char copy[1 << 20];
	memcpy(copy, buf, sizeof copy);
	char *line = find_line(copy, id);
	yes("listed", line != NULL);
	if (line) {
		int k = 0;
		sscanf(line, "%d", &k);
		yes("key column is our key", k == key);
	}
	expect_line(id, line);
	memcpy(copy, buf, sizeof copy);
	line = find_line(copy, pid_);
	yes("private set listed", line != NULL);
	expect_line(pid_, line);

	/* otime column follows semop, values do not appear */
	xsop(id, 1, 2, 0);
	slurp("/proc/sysvipc/sem", buf, sizeof buf);
	line = find_line(buf, id);
	expect_line(id, line);

	/* a non-root reader (the set is 0640 root:root) */
	int fd[2];
	xpipe(fd);
	pid_t c = xfork();
	if (c == 0) {
		drop_privs();
		slurp("/proc/sysvipc/sem", buf, sizeof buf);
		send_line(fd[1], find_line(buf, id) ? "listed" : "not listed");
		_exit(0);
	}
	char b[64];
	say("as nobody: %s", recv_line(fd[0], b, sizeof b));
	reap_ok(c);

	sem_rm(id);
	sem_rm(pid_);
	slurp("/proc/sysvipc/sem", buf, sizeof buf);
	yes("gone after IPC_RMID", find_line(buf, id) == NULL);
	say("done");
	return 0;
}
