/* semctl SEM_STAT and SEM_STAT_ANY take an index (0..IPC_INFO's result) and
 * return the id of the set there; ids are seq * 32768 + index. SEM_STAT
 * checks read permission, SEM_STAT_ANY does not. */
#include "common.h"

int main(void)
{
	setup();
	key_t key = test_key(1);
	int id = sem_new(key, 4, IPC_CREAT | IPC_EXCL | 0600);
	struct seminfo si;
	union semun ia = { .__buf = &si };
	int maxidx = TRY(semctl(0, 0, IPC_INFO, ia));

	int idx = -1, ret = -1, ret_any = -1;
	struct semid_ds ds, ds_any;
	for (int i = 0; i <= maxidx; i++) {
		union semun a = { .buf = &ds };
		int r = semctl(i, 0, SEM_STAT, a);
		if (r >= 0 && ds.sem_perm.__key == key) {
			idx = i;
			ret = r;
			break;
		}
	}
	yes("found with SEM_STAT", idx >= 0);
	if (idx < 0) die("set not found");
	yes("SEM_STAT returns our id", ret == id);
	say("nsems: %lu mode: %o", (unsigned long)ds.sem_nsems, (unsigned)ds.sem_perm.mode);
	yes("id == seq * 32768 + index", id == (int)ds.sem_perm.__seq * 32768 + idx);
	union semun aa = { .buf = &ds_any };
	ret_any = semctl(idx, 0, SEM_STAT_ANY, aa);
	yes("SEM_STAT_ANY returns our id", ret_any == id);
	yes("SEM_STAT_ANY same data", ds_any.sem_nsems == ds.sem_nsems &&
	    ds_any.sem_perm.mode == ds.sem_perm.mode && ds_any.sem_perm.__key == key);

	union semun a = { .buf = &ds };
	CHECK("SEM_STAT index -1", semctl(-1, 0, SEM_STAT, a));
	CHECK("SEM_STAT index maxidx+1", semctl(maxidx + 1, 0, SEM_STAT, a));
	/* the full id space: 32768 + our index names our set only if the index is masked */
	yes("SEM_STAT index 32768 + ours gives our id", semctl(32768 + idx, 0, SEM_STAT, a) == id);
	CHECK("SEM_STAT_ANY index maxidx+1", semctl(maxidx + 1, 0, SEM_STAT_ANY, a));
	CHECK("SEM_STAT NULL buf", semctl(idx, 0, SEM_STAT, (union semun){ .buf = NULL }));

	/* as nobody: SEM_STAT needs read permission, SEM_STAT_ANY does not */
	int fd[2];
	xpipe(fd);
	pid_t c = xfork();
	if (c == 0) {
		drop_privs();
		struct semid_ds d;
		union semun b = { .buf = &d };
		int r = semctl(idx, 0, SEM_STAT, b);
		send_line(fd[1], r == id ? "our id" : res(r, errno));
		r = semctl(idx, 0, SEM_STAT_ANY, b);
		send_line(fd[1], r == id ? "our id" : res(r, errno));
		_exit(0);
	}
	char buf[128];
	say("nobody SEM_STAT: %s", recv_line(fd[0], buf, sizeof buf));
	say("nobody SEM_STAT_ANY: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(c);

	/* after removal the index is empty (unless reused at once) */
	sem_rm(id);
	int r = semctl(idx, 0, SEM_STAT, a);
	yes("removed set no longer at its index", r != id);

	/* a new set gets a different id even if it gets the same index */
	int id2 = sem_new(key, 1, IPC_CREAT | IPC_EXCL | 0600);
	yes("new id differs", id2 != id);
	struct semid_ds d2;
	union semun a2 = { .buf = &d2 };
	TRY(semctl(id2, 0, IPC_STAT, a2));
	yes("new id / 32768 == its seq", id2 / 32768 == (int)d2.sem_perm.__seq);
	sem_rm(id2);
	say("done");
	return 0;
}
