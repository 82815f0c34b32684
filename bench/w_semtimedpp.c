/* w_semtimedpp N: w_pingpong with every wait a semtimedop(2) with a 10 s
 * timeout: each wait sleeps and is woken by the other process long before
 * its deadline, so the timeout is armed and cancelled on every hand-off.
 * N hand-offs; ns_per_op is per hand-off. */
#include "workload.h"

/* Wait for semaphore `num` with a timeout that never expires (retrying EINTR). */
static void timed_down(int id, unsigned short num)
{
	struct sembuf op = { .sem_num = num, .sem_op = -1, .sem_flg = 0 };
	struct timespec timeout = { 10, 0 };
	while (semtimedop(id, &op, 1, &timeout) < 0)
		if (errno != EINTR)
			DIE("semtimedop(num %u, 10 s)", num);
}

int main(int argc, char **argv)
{
	return pingpong_main(iterations(argc, argv, 200000), timed_down);
}
