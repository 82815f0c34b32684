/*
 * One second of SIGUSR1 every 50 us (a handler without SA_RESTART) while the
 * program keeps making calls the supervisor sees or decides: open, close,
 * dup2, an F_SETLK/F_UNLCK pair, a semop that never sleeps, fork. Linux
 * interrupts none of them (semop only when it sleeps), so there is no EINTR
 * to see, and the second ends however slow the calls are: a livelock shows
 * as a timeout, a repair gone wrong as an EINTR, a leaked fd or a crash.
 */
#include "common.h"

static volatile sig_atomic_t hits;

static void on_storm(int s)
{
	(void)s;
	hits++;
}

#define SIGNALS 20000 /* a second's worth natively */

int main(void)
{
	setup();
	int sem = sem_private(1);
	TRY(semctl(sem, 0, SETVAL, 1));
	int file = TRY(open("locked", O_RDWR | O_CREAT, 0600));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_storm;
	sigemptyset(&sa.sa_mask);
	TRY(sigaction(SIGUSR1, &sa, NULL));
	timer_t timer;
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	TRY(timer_create(CLOCK_MONOTONIC, &ev, &timer));
	struct itimerspec storm = { { 0, 50000 }, { 0, 50000 } };
	TRY(timer_settime(timer, 0, &storm, NULL));
	int eintr = 0, failed = 0, first = -1;
	for (long i = 0; hits < SIGNALS; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) {
			errno == EINTR ? eintr++ : failed++;
			continue;
		}
		if (first < 0)
			first = fd;
		if (dup2(fd, 100) < 0 || close(100) < 0 || close(fd) < 0)
			errno == EINTR ? eintr++ : failed++;
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		if (fcntl(file, F_SETLK, &fl) < 0)
			errno == EINTR ? eintr++ : failed++;
		fl.l_type = F_UNLCK;
		if (fcntl(file, F_SETLK, &fl) < 0)
			errno == EINTR ? eintr++ : failed++;
		struct sembuf op[2] = { { 0, -1, IPC_NOWAIT }, { 0, 1, 0 } };
		if (semop(sem, op, 1) < 0 || semop(sem, op + 1, 1) < 0)
			errno == EINTR ? eintr++ : failed++;
		if (i % 64 == 0) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(0);
			if (pid < 0)
				errno == EINTR ? eintr++ : failed++;
			else
				while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
					;
		}
	}
	TRY(timer_delete(timer));
	int next = open("/dev/null", O_RDONLY);
	say("a second of signals delivered: yes");
	say("EINTR from calls Linux does not interrupt: %d", eintr);
	say("other failures: %d", failed);
	say("no fd leaked: %s", yesno(next == first));
	say("semaphore back to 1: %s", yesno(semctl(sem, 0, GETVAL) == 1));
	struct flock probe = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	TRY(fcntl(file, F_GETLK, &probe));
	say("no lock left: %s", yesno(probe.l_type == F_UNLCK));
	say("done");
	return 0;
}
