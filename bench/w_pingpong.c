/* w_pingpong N: two processes hand a token back and forth through two
 * semaphores (ping: parent -> child, pong: child -> parent); every hand-off
 * wakes a process blocked in semop. N hand-offs; ns_per_op is per hand-off. */
#include "workload.h"

static void down(int id, unsigned short num)
{
	sem_change(id, num, -1, 0);
}

int main(int argc, char **argv)
{
	return pingpong_main(iterations(argc, argv, 200000), down);
}
