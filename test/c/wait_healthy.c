/* wait_healthy: a long but healthy wait. The parent sleeps on a semaphore
 * that a producer posts every 2 s from a timer (timerfd); between posts the
 * producer sleeps outside emulated IPC, so the sandbox is never stalled,
 * however long the parent waits. Three posts, then exit 0. */
#include "wait_common.h"
#include <stdint.h>
#include <sys/timerfd.h>

#define POSTS 3

int main(void)
{
	setup();
	int id = sem_private(1);
	pid_t producer = xfork();
	if (producer == 0) {
		die_with_parent();
		int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		struct itimerspec every2s = { .it_interval = { 2, 0 }, .it_value = { 2, 0 } };
		if (t < 0 || timerfd_settime(t, 0, &every2s, NULL) < 0)
			die("timerfd");
		for (int i = 0; i < POSTS; i++) {
			uint64_t expired;
			if (read(t, &expired, sizeof expired) != sizeof expired)
				die("read timerfd");
			xsop(id, 0, 1, 0);
		}
		_exit(0);
	}
	for (int i = 0; i < POSTS; i++)
		xsop(id, 0, -1, 0);
	say("got %d posts", POSTS);
	say("producer: exit %d", reap_code(producer));
	sem_rm(id);
	say("done");
	return 0;
}
