/* semctl IPC_STAT: nsems, mode, key, owner/creator ids, sem_otime (0 until a
 * successful semop, also a zero-wait one; SETVAL does not set it) and
 * sem_ctime. */
#include "common.h"

static struct semid_ds st(int id)
{
	struct semid_ds ds;
	memset(&ds, 0x5a, sizeof ds);
	union semun a = { .buf = &ds };
	if (semctl(id, 0, IPC_STAT, a) != 0)
		die("IPC_STAT");
	return ds;
}

static int recent(time_t t, time_t before)
{
	return t >= before && t <= time(NULL) + 1;
}

int main(void)
{
	setup();
	key_t key = test_key(1);
	time_t before = time(NULL) - 1;
	int id = sem_new(key, 3, IPC_CREAT | IPC_EXCL | 0640);
	struct semid_ds ds;
	union semun a = { .buf = &ds };

	CHECK("IPC_STAT", semctl(id, 0, IPC_STAT, a));
	CHECK("IPC_STAT semnum 99 ignored", semctl(id, 99, IPC_STAT, a));
	ds = st(id);
	say("nsems: %lu", (unsigned long)ds.sem_nsems);
	say("mode: %o", (unsigned)ds.sem_perm.mode);
	yes("key matches", ds.sem_perm.__key == key);
	yes("uid is euid", ds.sem_perm.uid == geteuid());
	yes("gid is egid", ds.sem_perm.gid == getegid());
	yes("cuid is euid", ds.sem_perm.cuid == geteuid());
	yes("cgid is egid", ds.sem_perm.cgid == getegid());
	say("otime before any semop: %ld", (long)ds.sem_otime);
	yes("ctime set at creation", recent(ds.sem_ctime, before));

	/* SETVAL / SETALL / failing semop: otime stays 0 */
	setval(id, 0, 1);
	CHECK("failing semop", sop1(id, 1, -1, IPC_NOWAIT));
	say("otime after SETVAL and a failing semop: %ld", (long)st(id).sem_otime);
	yes("ctime after SETVAL recent", recent(st(id).sem_ctime, before));

	before = time(NULL) - 1;
	xsop(id, 2, 0, 0);
	ds = st(id);
	yes("otime set by a zero-wait semop", ds.sem_otime != 0 && recent(ds.sem_otime, before));
	xsop(id, 0, -1, 0);
	ds = st(id);
	yes("otime set after decrement", recent(ds.sem_otime, before));

	/* a child's semop sets otime too */
	int id2 = sem_private(1);
	pid_t c = xfork();
	if (c == 0) {
		xsop(id2, 0, 1, 0);
		_exit(0);
	}
	reap_ok(c);
	yes("otime set by a child's semop", recent(st(id2).sem_otime, before));

	/* IPC_PRIVATE key reads back as 0 */
	say("private key: %d", (int)st(id2).sem_perm.__key);
	say("private mode: %o", (unsigned)st(id2).sem_perm.mode);
	sem_rm(id2);
	id2 = sem_private(1);
	say("otime of a fresh set: %ld", (long)st(id2).sem_otime);
	sem_rm(id2);
	id2 = sem_new(IPC_PRIVATE, 1, IPC_CREAT | 07777);
	say("mode when created with 07777: %o", (unsigned)st(id2).sem_perm.mode);
	sem_rm(id2);

	CHECK("IPC_STAT NULL buf", semctl(id, 0, IPC_STAT, (union semun){ .buf = NULL }));
	CHECK("IPC_STAT bad buf", semctl(id, 0, IPC_STAT, (union semun){ .buf = (struct semid_ds *)8 }));
	CHECK("IPC_STAT bad id", semctl(-1, 0, IPC_STAT, a));

	sem_rm(id);
	say("done");
	return 0;
}
