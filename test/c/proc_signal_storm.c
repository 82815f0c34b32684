/*
 * A storm of SIGALRM (every 50 µs, handler without SA_RESTART) while the
 * program opens, closes, dup2s and forks. Linux never fails these with
 * EINTR; under sysvisor they are notified (locks need close and dup2, the
 * /proc files need open), so a signal can cut a notification off. The
 * supervisor must make them restart: no EINTR, no fd left open.
 */
#include "common.h"
#include <sys/time.h>

static volatile sig_atomic_t hits;

static void on_storm(int s)
{
	(void)s;
	hits++;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_storm; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		die("sigaction");
	struct itimerval storm = { { 0, 50 }, { 0, 50 } };
	if (setitimer(ITIMER_REAL, &storm, NULL) < 0)
		die("setitimer");
	int eintr = 0, failed = 0, forks = 0, first = -1;
	for (int i = 0; i < 5000; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) {
			if (errno == EINTR)
				eintr++;
			else
				failed++;
			continue;
		}
		if (first < 0)
			first = fd;
		if (dup2(fd, 100) < 0)
			errno == EINTR ? eintr++ : failed++;
		if (close(100) < 0)
			errno == EINTR ? eintr++ : failed++;
		if (close(fd) < 0)
			errno == EINTR ? eintr++ : failed++;
		if (i % 100 == 0) {
			pid_t pid = fork();
			if (pid < 0) {
				errno == EINTR ? eintr++ : failed++;
			} else if (pid == 0) {
				_exit(0);
			} else {
				while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
					;
				forks++;
			}
		}
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	int next = open("/dev/null", O_RDONLY);
	say("signals delivered: %s", hits > 0 ? "yes" : "no");
	say("EINTR from open/dup2/close/fork: %d", eintr);
	say("other failures: %d", failed);
	say("forks: %d", forks);
	say("no fd leaked (the next open reuses the first fd): %s", next == first ? "yes" : "no");
	say("fd 100 closed: %s", fcntl(100, F_GETFD) < 0 ? "yes" : "no");
	say("done");
	return 0;
}
