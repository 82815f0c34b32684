/* semctl IPC_INFO and SEM_INFO: limits equal /proc/sys/kernel/sem, fixed
 * constants, in-use counts, and the return value (highest used index). */
#include "common.h"

/* index of our set: scan with SEM_STAT_ANY and match the key */
static int find_index(key_t key, int maxidx)
{
	for (int i = 0; i <= maxidx; i++) {
		struct semid_ds ds;
		union semun a = { .buf = &ds };
		if (semctl(i, 0, SEM_STAT_ANY, a) >= 0 && ds.sem_perm.__key == key)
			return i;
	}
	return -1;
}

int main(void)
{
	setup();
	long k[4];
	if (read_kernel_sem(k) != 4)
		die("kernel.sem");
	key_t key = test_key(1);
	int id = sem_new(key, 5, IPC_CREAT | IPC_EXCL | 0600);

	struct seminfo si;
	memset(&si, 0x5a, sizeof si);
	union semun a = { .__buf = &si };
	int maxidx = semctl(0, 0, IPC_INFO, a);
	yes("IPC_INFO returns >= 0", maxidx >= 0);
	yes("semmsl matches /proc", si.semmsl == k[0]);
	yes("semmns matches /proc", si.semmns == k[1]);
	yes("semopm matches /proc", si.semopm == k[2]);
	yes("semmni matches /proc", si.semmni == k[3]);
	say("semmap %d semmnu %d semume %d semusz %d semvmx %d semaem %d",
	    si.semmap, si.semmnu, si.semume, si.semusz, si.semvmx, si.semaem);
	int idx = find_index(key, maxidx);
	yes("our set found", idx >= 0);
	yes("IPC_INFO return >= our index", maxidx >= idx);
	int m2 = semctl(12345, 77, IPC_INFO, a);
	yes("IPC_INFO ignores a positive semid and semnum", m2 == maxidx);
	CHECK("IPC_INFO semid -1", semctl(-1, 0, IPC_INFO, a));

	struct seminfo si2;
	memset(&si2, 0x5a, sizeof si2);
	union semun b = { .__buf = &si2 };
	int maxidx2 = semctl(0, 0, SEM_INFO, b);
	yes("SEM_INFO returns the same index", maxidx2 == maxidx);
	yes("SEM_INFO limits equal IPC_INFO",
	    si2.semmsl == si.semmsl && si2.semmns == si.semmns &&
	    si2.semopm == si.semopm && si2.semmni == si.semmni &&
	    si2.semmap == si.semmap && si2.semmnu == si.semmnu &&
	    si2.semume == si.semume && si2.semvmx == si.semvmx);
	yes("SEM_INFO semusz (sets in use) >= 1", si2.semusz >= 1);
	yes("SEM_INFO semaem (sems in use) >= 5", si2.semaem >= 5);
	yes("SEM_INFO sets in use <= semmni", si2.semusz <= si.semmni);

	CHECK("IPC_INFO NULL buf", semctl(0, 0, IPC_INFO, (union semun){ .__buf = NULL }));
	CHECK("SEM_INFO NULL buf", semctl(0, 0, SEM_INFO, (union semun){ .__buf = NULL }));

	/* a non-root user may ask too */
	int fd[2];
	xpipe(fd);
	pid_t c = xfork();
	if (c == 0) {
		drop_privs();
		struct seminfo s3;
		union semun d = { .__buf = &s3 };
		int r = semctl(0, 0, IPC_INFO, d);
		send_line(fd[1], r >= 0 && s3.semmsl == si.semmsl ? "ok" : res(r, errno));
		r = semctl(0, 0, SEM_INFO, d);
		send_line(fd[1], r >= 0 && s3.semusz >= 1 ? "ok" : res(r, errno));
		_exit(0);
	}
	char buf[128];
	say("nobody IPC_INFO: %s", recv_line(fd[0], buf, sizeof buf));
	say("nobody SEM_INFO: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(c);

	sem_rm(id);
	say("done");
	return 0;
}
