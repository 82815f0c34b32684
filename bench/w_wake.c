/* w_wake N: two processes hand a byte back and forth through two pipes,
 * nothing notified; ns_per_op is per hand-off (a wake-up of the other
 * process, wherever the scheduler puts it). */
#include "workload.h"

int main(int argc, char **argv)
{
	return wake_main(iterations(argc, argv, 200000), 0);
}
