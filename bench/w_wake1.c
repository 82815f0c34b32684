/* w_wake1 N: w_wake with both processes pinned to one CPU: a wake-up
 * without crossing CPUs. */
#include "workload.h"

int main(int argc, char **argv)
{
	return wake_main(iterations(argc, argv, 200000), 1);
}
