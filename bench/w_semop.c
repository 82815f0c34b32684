/* w_semop N: N uncontended semop(2) calls on a private one-semaphore set,
 * alternating -1 and +1 (the value stays in 0..1, nothing ever blocks).
 * ns_per_op is per semop call. The set is removed at the end. */
#include "workload.h"

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 1000000);
	int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	if (id < 0)
		DIE("semget(IPC_PRIVATE)");
	union semun arg = { .val = 1 };
	if (semctl(id, 0, SETVAL, arg) < 0)
		DIE("semctl(SETVAL)");
	long pairs = (n + 1) / 2;
	down_up(id, warmup(pairs));
	double t0 = now_ns();
	down_up(id, pairs);
	double t1 = now_ns();
	if (semctl(id, 0, GETVAL) != 1)
		DIE("semaphore value is not 1 at the end");
	if (semctl(id, 0, IPC_RMID) < 0)
		DIE("semctl(IPC_RMID)");
	report(t1 - t0, (double)pairs * 2);
	return 0;
}
