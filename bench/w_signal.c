/* w_signal N: N signals sent to itself (kill + a SIGUSR1 handler that counts,
 * then rt_sigreturn). Under sysvisor rt_sigreturn is notified whenever any
 * call is (a signal can cut a notified call off); the native step answers it.
 * ns_per_op is per signal delivered and handled. */
#include "workload.h"
#include <signal.h>

static volatile sig_atomic_t handled;

static void on_signal(int s)
{
	(void)s;
	handled++;
}

static void signals(long n, pid_t self)
{
	for (long i = 0; i < n; i++)
		if (kill(self, SIGUSR1) < 0)
			DIE("kill(SIGUSR1)");
}

int main(int argc, char **argv)
{
	long n = iterations(argc, argv, 1000000);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		DIE("sigaction");
	pid_t self = getpid();
	signals(warmup(n), self);
	handled = 0;
	double t0 = now_ns();
	signals(n, self);
	double t1 = now_ns();
	if (handled != n)
		DIE("%ld signals sent, %d handled", n, (int)handled);
	report(t1 - t0, (double)n);
	return 0;
}
