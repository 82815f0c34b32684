/* Permissions for a non-root user (uid/gid 65534): read (GETVAL, IPC_STAT,
 * zero-wait semop) and alter (SETVAL, SETALL, decrement) checks with
 * owner/group/other classes (the first matching class decides), the creator
 * counting as owner, and EPERM for IPC_SET/IPC_RMID by a non-owner. Root
 * bypasses mode bits. */
#include "common.h"

static int fd[2];

static struct semid_ds st(int id)
{
	struct semid_ds ds;
	union semun a = { .buf = &ds };
	if (semctl(id, 0, IPC_STAT, a) != 0)
		die("IPC_STAT");
	return ds;
}

static void chown_set(int id, uid_t u, gid_t g, mode_t m)
{
	struct semid_ds ds = st(id);
	ds.sem_perm.uid = u;
	ds.sem_perm.gid = g;
	ds.sem_perm.mode = m;
	union semun a = { .buf = &ds };
	TRY(semctl(id, 0, IPC_SET, a));
}

/* everything a non-owner might try, reported line by line */
static void probe(int w, int id, const char *p, int rmid, uid_t u, gid_t g, mode_t m)
{
	char l[128];
	struct semid_ds ds;
	union semun sa = { .buf = &ds };
	unsigned short v[2];
	union semun va = { .array = v };
	union semun one = { .val = 1 };
#define L(what) (snprintf(l, sizeof l, "%s %s", p, what), l)
	RCHECK(w, L("GETVAL"), semctl(id, 0, GETVAL));
	RCHECK(w, L("GETALL"), semctl(id, 0, GETALL, va));
	RCHECK(w, L("GETNCNT"), semctl(id, 0, GETNCNT));
	RCHECK(w, L("GETZCNT"), semctl(id, 0, GETZCNT));
	RCHECK_OK(w, L("GETPID"), semctl(id, 0, GETPID));
	RCHECK(w, L("IPC_STAT"), semctl(id, 0, IPC_STAT, sa));
	RCHECK(w, L("semop zero-wait"), sop1(id, 0, 0, IPC_NOWAIT));
	RCHECK(w, L("semop +1"), sop1(id, 1, 1, IPC_NOWAIT));
	RCHECK(w, L("semop -1"), sop1(id, 1, -1, IPC_NOWAIT));
	RCHECK(w, L("SETVAL"), semctl(id, 0, SETVAL, one));
	v[0] = v[1] = 0;
	RCHECK(w, L("SETALL"), semctl(id, 0, SETALL, va));
	/* IPC_SET to the values the set already has (IPC_STAT may fail) */
	memset(&ds, 0, sizeof ds);
	ds.sem_perm.uid = u;
	ds.sem_perm.gid = g;
	ds.sem_perm.mode = m;
	RCHECK(w, L("IPC_SET"), semctl(id, 0, IPC_SET, sa));
	if (rmid)
		RCHECK(w, L("IPC_RMID"), semctl(id, 0, IPC_RMID));
#undef L
}

static void as_nobody(int id, const char *p, int rmid)
{
	struct semid_ds ds = st(id);
	pid_t c = xfork();
	if (c == 0) {
		close(fd[0]);
		drop_privs();
		probe(fd[1], id, p, rmid, ds.sem_perm.uid, ds.sem_perm.gid, ds.sem_perm.mode);
		send_line(fd[1], "end");
		_exit(0);
	}
	relay_lines(fd[0], "");
	reap_ok(c);
}

int main(void)
{
	setup();
	if (geteuid() != 0)
		die("run as root");
	xpipe(fd);
	int id = sem_private(2);

	chown_set(id, 0, 0, 0600);
	as_nobody(id, "root 0600:", 1);
	chown_set(id, 0, 0, 0644);
	as_nobody(id, "root 0644:", 1);
	chown_set(id, 0, 0, 0622);
	as_nobody(id, "root 0622:", 1);
	chown_set(id, 0, 0, 0666);
	as_nobody(id, "root 0666:", 1);
	/* group class */
	chown_set(id, 0, NOBODY, 0640);
	as_nobody(id, "group 0640:", 1);
	chown_set(id, 0, NOBODY, 0606);
	as_nobody(id, "group 0606:", 1);
	/* owner class decides even if group/other would allow */
	chown_set(id, NOBODY, 0, 0066);
	as_nobody(id, "owner 0066:", 0);
	chown_set(id, NOBODY, 0, 0400);
	as_nobody(id, "owner 0400:", 0);
	{
		struct semid_ds ds = st(id);
		say("after owner's IPC_SET: mode %o uid %u gid %u", (unsigned)ds.sem_perm.mode,
		    (unsigned)ds.sem_perm.uid, (unsigned)ds.sem_perm.gid);
	}
	/* owner may remove */
	chown_set(id, NOBODY, 0, 0000);
	as_nobody(id, "owner 0000:", 1);
	CHECK("set gone after owner's IPC_RMID", semctl(id, 0, GETVAL));
	untrack_set(id);

	/* creator counts as owner: nobody creates, root gives it to 1234 */
	pid_t c = xfork();
	if (c == 0) {
		drop_privs();
		int n = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
		char m[32];
		snprintf(m, sizeof m, "%d", n);
		send_line(fd[1], m);
		_exit(n < 0);
	}
	char buf[64];
	int nid = atoi(recv_line(fd[0], buf, sizeof buf));
	reap_ok(c);
	track_set(nid);
	chown_set(nid, 1234, 1234, 0600);
	as_nobody(nid, "creator 0600:", 1);
	CHECK("set gone after creator's IPC_RMID", semctl(nid, 0, GETVAL));
	untrack_set(nid);

	/* root ignores the mode bits */
	union semun one = { .val = 1 };
	id = sem_new(IPC_PRIVATE, 1, IPC_CREAT | 0000);
	chown_set(id, 1234, 1234, 0000);
	CHECK("root GETVAL mode 0000 of 1234", semctl(id, 0, GETVAL));
	CHECK("root SETVAL mode 0000 of 1234", semctl(id, 0, SETVAL, one));
	CHECK("root semop mode 0000 of 1234", sop1(id, 0, -1, IPC_NOWAIT));
	CHECK("root IPC_RMID mode 0000 of 1234", semctl(id, 0, IPC_RMID));
	untrack_set(id);
	say("done");
	return 0;
}
