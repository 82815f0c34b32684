/* semctl IPC_SET: changes uid, gid and the low 9 mode bits only; creator
 * ids, nsems and the other mode bits stay; invalid ids -> EINVAL. */
#include "common.h"

static struct semid_ds st(int id)
{
	struct semid_ds ds;
	union semun a = { .buf = &ds };
	if (semctl(id, 0, IPC_STAT, a) != 0)
		die("IPC_STAT");
	return ds;
}

static void show(int id, const char *label)
{
	struct semid_ds ds = st(id);
	say("%s: mode %o uid %u gid %u creator is me %s nsems %lu", label,
	    (unsigned)ds.sem_perm.mode, (unsigned)ds.sem_perm.uid,
	    (unsigned)ds.sem_perm.gid,
	    yesno(ds.sem_perm.cuid == geteuid() && ds.sem_perm.cgid == getegid()),
	    (unsigned long)ds.sem_nsems);
}

int main(void)
{
	setup();
	if (geteuid() != 0)
		die("run as root");
	int id = sem_private(3);
	struct semid_ds ds = st(id);
	union semun a = { .buf = &ds };
	show(id, "initial");

	ds.sem_perm.mode = 0640;
	CHECK("IPC_SET mode 0640", semctl(id, 0, IPC_SET, a));
	show(id, "after");

	ds = st(id);
	ds.sem_perm.mode = 07777;
	CHECK("IPC_SET mode 07777", semctl(id, 0, IPC_SET, a));
	show(id, "after");

	ds = st(id);
	ds.sem_perm.mode = 0170600;
	CHECK("IPC_SET mode 0170600", semctl(id, 0, IPC_SET, a));
	show(id, "after");

	ds = st(id);
	ds.sem_perm.uid = 1234;
	ds.sem_perm.gid = 5678;
	ds.sem_perm.cuid = 42;
	ds.sem_perm.cgid = 43;
	ds.sem_nsems = 99;
	ds.sem_perm.__key = 12345;
	CHECK("IPC_SET uid 1234 gid 5678 (and cuid, nsems, key)", semctl(id, 99, IPC_SET, a));
	show(id, "after");
	say("key: %d", (int)st(id).sem_perm.__key);

	ds = st(id);
	ds.sem_perm.uid = (uid_t)-1;
	CHECK("IPC_SET uid -1", semctl(id, 0, IPC_SET, a));
	ds = st(id);
	ds.sem_perm.gid = (gid_t)-1;
	CHECK("IPC_SET gid -1", semctl(id, 0, IPC_SET, a));
	show(id, "after");

	/* still ours as root even though owned by 1234 */
	ds = st(id);
	ds.sem_perm.uid = 0;
	ds.sem_perm.gid = 0;
	ds.sem_perm.mode = 0600;
	CHECK("IPC_SET back to root", semctl(id, 0, IPC_SET, a));
	show(id, "after");

	/* ctime is updated (we can only check it is recent) */
	time_t t = time(NULL);
	yes("ctime recent", st(id).sem_ctime >= t - 1 && st(id).sem_ctime <= t + 1);

	CHECK("IPC_SET NULL buf", semctl(id, 0, IPC_SET, (union semun){ .buf = NULL }));
	CHECK("IPC_SET bad id", semctl(-1, 0, IPC_SET, a));
	sem_rm(id);
	CHECK("IPC_SET removed id", semctl(id, 0, IPC_SET, a));
	say("done");
	return 0;
}
