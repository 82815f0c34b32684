/* semget: IPC_PRIVATE, IPC_CREAT/IPC_EXCL, ENOENT, EINVAL for bad nsems,
 * key reuse after IPC_RMID, permission checks by a non-root user. */
#include "common.h"

int main(void)
{
	setup();
	long msl = semmsl();
	key_t key = test_key(1);

	/* IPC_PRIVATE always creates a new set. */
	int p1 = CHECK_OK("private create", semget(IPC_PRIVATE, 2, IPC_CREAT | 0600));
	if (p1 >= 0) track_set(p1);
	int p2 = CHECK_OK("private again", semget(IPC_PRIVATE, 2, 0600));
	if (p2 >= 0) track_set(p2);
	yes("private ids differ", p1 != p2);
	int p3 = CHECK_OK("private with IPC_EXCL", semget(IPC_PRIVATE, 1, IPC_CREAT | IPC_EXCL | 0600));
	if (p3 >= 0) track_set(p3);
	CHECK("private nsems 0", semget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
	CHECK("private nsems -1", semget(IPC_PRIVATE, -1, IPC_CREAT | 0600));
	CHECK("private nsems semmsl+1", semget(IPC_PRIVATE, (int)msl + 1, IPC_CREAT | 0600));
	int pm = CHECK_OK("private nsems semmsl", semget(IPC_PRIVATE, (int)msl, IPC_CREAT | 0600));
	if (pm >= 0) {
		track_set(pm);
		struct semid_ds ds;
		union semun a = { .buf = &ds };
		TRY(semctl(pm, 0, IPC_STAT, a));
		yes("semmsl set has semmsl sems", (long)ds.sem_nsems == msl);
		sem_rm(pm);
	}

	/* Keys. */
	CHECK("lookup missing key", semget(key, 1, 0600));
	CHECK("lookup missing key nsems 0", semget(key, 0, 0));
	CHECK("create key nsems 0", semget(key, 0, IPC_CREAT | 0600));
	CHECK("create key nsems -1", semget(key, -1, IPC_CREAT | 0600));
	int k1 = CHECK_OK("create key", semget(key, 3, IPC_CREAT | IPC_EXCL | 0600));
	if (k1 < 0) die("cannot continue");
	track_set(k1);
	CHECK("create key again IPC_EXCL", semget(key, 3, IPC_CREAT | IPC_EXCL | 0600));
	int k2 = CHECK_OK("create key again IPC_CREAT", semget(key, 3, IPC_CREAT | 0600));
	yes("same id", k2 == k1);
	k2 = CHECK_OK("lookup key", semget(key, 3, 0));
	yes("same id", k2 == k1);
	k2 = CHECK_OK("lookup key nsems 0", semget(key, 0, 0));
	yes("same id", k2 == k1);
	k2 = CHECK_OK("lookup key fewer nsems", semget(key, 1, 0));
	yes("same id", k2 == k1);
	CHECK("lookup key more nsems", semget(key, 4, 0));
	CHECK("lookup key more nsems IPC_CREAT", semget(key, 4, IPC_CREAT | 0600));
	CHECK("lookup key more nsems IPC_EXCL", semget(key, 4, IPC_CREAT | IPC_EXCL | 0600));
	CHECK("lookup key nsems -1", semget(key, -1, 0));
	CHECK("lookup key nsems semmsl+1", semget(key, (int)msl + 1, 0));
	/* Mode bits of the lookup are a permission request, not a change. */
	k2 = CHECK_OK("lookup key mode 0777", semget(key, 0, 0777));
	{
		struct semid_ds ds;
		union semun a = { .buf = &ds };
		TRY(semctl(k1, 0, IPC_STAT, a));
		say("mode after lookup: %o", ds.sem_perm.mode & 0777);
		say("nsems: %lu", (unsigned long)ds.sem_nsems);
	}

	/* Reuse of the key after IPC_RMID gives a new id. */
	sem_rm(k1);
	CHECK("lookup removed key", semget(key, 0, 0));
	int k3 = CHECK_OK("recreate key", semget(key, 1, IPC_CREAT | IPC_EXCL | 0600));
	if (k3 < 0) die("cannot continue");
	track_set(k3);
	yes("id changed after reuse", k3 != k1);
	CHECK("old id after reuse GETVAL", semctl(k1, 0, GETVAL));
	sem_rm(k3);

	/* Permissions: a non-root user against sets of mode 0600 and 0666. */
	key_t kp = test_key(2), ko = test_key(3), kn = test_key(4);
	int sp = sem_new(kp, 1, IPC_CREAT | IPC_EXCL | 0600);
	int so = sem_new(ko, 1, IPC_CREAT | IPC_EXCL | 0666);
	int sn = sem_new(kn, 1, IPC_CREAT | IPC_EXCL | 0000);
	int fd[2];
	xpipe(fd);
	pid_t c = xfork();
	if (c == 0) {
		close(fd[0]);
		drop_privs();
		long r;
		r = semget(kp, 1, 0600); send_res(fd[1], r < 0 ? r : 0, errno);
		r = semget(kp, 1, 0400); send_res(fd[1], r < 0 ? r : 0, errno);
		r = semget(kp, 1, 0); send_line(fd[1], r == sp ? "same id" : res(r, errno));
		r = semget(kp, 1, IPC_CREAT | 0600); send_res(fd[1], r < 0 ? r : 0, errno);
		r = semget(kp, 1, IPC_CREAT | IPC_EXCL | 0600); send_res(fd[1], r < 0 ? r : 0, errno);
		r = semget(ko, 1, 0666); send_line(fd[1], r == so ? "same id" : res(r, errno));
		r = semget(ko, 1, 0600); send_line(fd[1], r == so ? "same id" : res(r, errno));
		r = semget(kn, 1, 0); send_line(fd[1], r == sn ? "same id" : res(r, errno));
		r = semget(kn, 1, 0004); send_res(fd[1], r < 0 ? r : 0, errno);
		_exit(0);
	}
	close(fd[1]);
	char b[128];
	say("nobody semget 0600 set mode 0600: %s", recv_line(fd[0], b, sizeof b));
	say("nobody semget 0600 set mode 0400: %s", recv_line(fd[0], b, sizeof b));
	say("nobody semget 0600 set mode 0: %s", recv_line(fd[0], b, sizeof b));
	say("nobody semget 0600 set IPC_CREAT: %s", recv_line(fd[0], b, sizeof b));
	say("nobody semget 0600 set IPC_EXCL: %s", recv_line(fd[0], b, sizeof b));
	say("nobody semget 0666 set mode 0666: %s", recv_line(fd[0], b, sizeof b));
	say("nobody semget 0666 set mode 0600: %s", recv_line(fd[0], b, sizeof b));
	say("nobody semget 0000 set mode 0: %s", recv_line(fd[0], b, sizeof b));
	say("nobody semget 0000 set mode 0004: %s", recv_line(fd[0], b, sizeof b));
	reap_ok(c);
	close(fd[0]);
	/* Root (CAP_IPC_OWNER) may ask for anything. */
	int r0 = CHECK_OK("root semget 0000 set mode 0666", semget(kn, 1, 0666));
	yes("same id", r0 == sn);
	sem_rm(sp);
	sem_rm(so);
	sem_rm(sn);
	if (p1 >= 0) sem_rm(p1);
	if (p2 >= 0) sem_rm(p2);
	if (p3 >= 0) sem_rm(p3);
	say("done");
	return 0;
}
