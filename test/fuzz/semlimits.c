/*
 * semlimits - the [sem] limits (SEMMSL, SEMMNS, SEMOPM, SEMMNI) at their
 * edges, as /proc/sys/kernel/sem states them. Deterministic output, meant to
 * run natively in a fresh IPC namespace whose limits were written first
 * (unshare --ipc) and under sysvisor with the same [sem] section: the
 * outputs must be equal. Prints counts and errno names, never ids.
 */
#include "../c/common.h"

#define MAXSETS 4096
static int ids[MAXSETS + 8];
static int nids;

static void rm_all(void)
{
	for (int i = 0; i < nids; i++)
		if (semctl(ids[i], 0, IPC_RMID) < 0)
			die("IPC_RMID");
	nids = 0;
}

/* Make sets of `nsems` until semget fails (or MAXSETS); prints how many and why it stopped. */
static void fill(const char *label, int nsems)
{
	int made = 0, e = 0;
	for (;;) {
		if (nids == MAXSETS) {
			e = 0;
			break;
		}
		int id = semget(IPC_PRIVATE, nsems, IPC_CREAT | 0600);
		if (id < 0) {
			e = errno;
			break;
		}
		ids[nids++] = id;
		made++;
	}
	say("%s: %d sets, then %s", label, made, e ? errname(e) : "stopped at the test's own cap");
}

int main(void)
{
	setup();
	long v[4];
	if (read_kernel_sem(v) != 4)
		die("read /proc/sys/kernel/sem");
	long msl = v[0], mns = v[1], opm = v[2], mni = v[3];
	say("limits: semmsl=%ld semmns=%ld semopm=%ld semmni=%ld", msl, mns, opm, mni);

	/* SEMMSL */
	int id = semget(IPC_PRIVATE, (int)msl, IPC_CREAT | 0600);
	say("semget(nsems = SEMMSL): %s", resok(id, errno));
	if (id >= 0)
		semctl(id, 0, IPC_RMID);
	CHECK("semget(nsems = SEMMSL + 1)", semget(IPC_PRIVATE, (int)msl + 1, IPC_CREAT | 0600));

	/* SEMMNS: sets of SEMMSL semaphores until the total would pass it */
	fill("sets of SEMMSL semaphores", (int)msl);
	struct seminfo si;
	union semun a = { .__buf = &si };
	long r = semctl(0, 0, SEM_INFO, a);
	say("SEM_INFO: %s sets in use %d, semaphores in use %d", r >= 0 ? "ok" : res(r, errno), si.semusz, si.semaem);
	/* what is left of SEMMNS, exactly */
	long left = mns - (long)nids * msl;
	if (left > 0 && left < msl) {
		id = semget(IPC_PRIVATE, (int)left, IPC_CREAT | 0600);
		say("semget(the %ld semaphores left): %s", left, resok(id, errno));
		if (id >= 0)
			ids[nids++] = id;
		CHECK("semget(1 more)", semget(IPC_PRIVATE, 1, IPC_CREAT | 0600));
	}
	rm_all();

	/* SEMMNI: one-semaphore sets until the table is full */
	fill("sets of 1 semaphore", 1);
	r = semctl(0, 0, SEM_INFO, a);
	say("SEM_INFO: sets in use %d, semaphores in use %d", si.semusz, si.semaem);
	say("SEM_INFO returns the highest index in use: %s", yesno(r == nids - 1));
	/* a keyed semget of an existing key still works with the table full */
	key_t k = test_key(1);
	if (nids > 0) {
		semctl(ids[nids - 1], 0, IPC_RMID);
		nids--;
		id = semget(k, 1, IPC_CREAT | IPC_EXCL | 0600);
		say("keyed semget into the last free slot: %s", resok(id, errno));
		if (id >= 0) {
			ids[nids++] = id;
			CHECK("semget(same key, 0, 0) with the table full", semget(k, 0, 0) == id ? 0 : -1);
			int extra = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
			say("semget(IPC_PRIVATE) with the table full: %s", resok(extra, errno));
			if (extra >= 0)
				ids[nids++] = extra;
		}
	}
	/* SEMOPM with the table full: the op count is checked first */
	struct sembuf ops[1024];
	for (int i = 0; i < 1024; i++)
		ops[i] = (struct sembuf){ 0, 0, IPC_NOWAIT };
	if (nids > 0 && opm < 1024) {
		CHECK("semop(nsops = SEMOPM)", semop(ids[0], ops, (size_t)opm));
		CHECK("semop(nsops = SEMOPM + 1)", semop(ids[0], ops, (size_t)opm + 1));
	}
	rm_all();
	r = semctl(0, 0, SEM_INFO, a);
	say("after removing everything: sets %d, semaphores %d", si.semusz, si.semaem);
	/* and the table is usable again */
	fill("sets of 1 semaphore again", 1);
	rm_all();
	say("done");
	return 0;
}
