/*
 * hostwait.c - blocking host lock calls on helper threads, for the
 * supervisor's loop thread, which must never block
 * (supervisor/locks/host.ts).
 *
 * sv_hw_start runs F_OFD_SETLKW or flock() on a thread of its own, on a
 * duplicate of the given fd (the caller may close its fd meanwhile: the
 * duplicate names the same open file description, so the lock lands where
 * it was asked). The thread then stores the result and writes the eventfd
 * given to sv_hw_init, which the loop watches; sv_hw_collect hands over the
 * finished jobs.
 *
 * sv_hw_cancel interrupts a wait with SIG_CANCEL, whose handler does nothing
 * and is installed without SA_RESTART, so the call returns EINTR. A signal
 * that lands before the thread enters the call is lost: the caller repeats
 * sv_hw_cancel until the job is collected. A cancelled job can still report
 * success (the lock came first); the caller then gives the lock back.
 *
 * Threads are detached and run with every other signal blocked. A job slot
 * is reused only after it is collected; a thread touches its slot only
 * under the mutex and never after marking it done, and sv_hw_cancel signals
 * only running jobs, so no signal ever goes to a thread that has exited.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define MAX_JOBS 256
#define STACK_SIZE (64 * 1024)
#define SIG_CANCEL (SIGRTMIN + 6)
#define OP_OFD 0
#define OP_FLOCK 1

enum { FREE, RUNNING, DONE };

struct job {
	pthread_t thread;
	int state;
	int cancelled;
	int fd;
	int op;
	int type;
	long long start;
	long long len;
	int result;
};

static struct job jobs[MAX_JOBS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int event_fd = -1;

static void on_cancel(int sig)
{
	(void)sig;
}

/* Install the cancel signal's handler and remember the eventfd to write. 0 or -errno. */
int sv_hw_init(int efd)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_cancel;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the blocked call returns EINTR */
	if (sigaction(SIG_CANCEL, &sa, NULL) < 0)
		return -errno;
	event_fd = efd;
	return 0;
}

static int lock_once(struct job *j)
{
	if (j->op == OP_FLOCK)
		return flock(j->fd, j->type) < 0 ? -errno : 0;
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = (short)j->type;
	fl.l_whence = SEEK_SET;
	fl.l_start = j->start;
	fl.l_len = j->len;
	return fcntl(j->fd, F_OFD_SETLKW, &fl) < 0 ? -errno : 0;
}

static void *run(void *arg)
{
	struct job *j = arg;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIG_CANCEL);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	int r;
	for (;;) {
		r = lock_once(j);
		if (r != -EINTR)
			break;
		pthread_mutex_lock(&mu);
		int cancelled = j->cancelled;
		pthread_mutex_unlock(&mu);
		if (cancelled)
			break;
	}
	close(j->fd);
	pthread_mutex_lock(&mu);
	j->result = r;
	j->state = DONE;
	pthread_mutex_unlock(&mu);
	uint64_t one = 1;
	if (write(event_fd, &one, sizeof one) < 0) {
		/* the eventfd cannot overflow at one write per job; nothing to do */
	}
	return NULL;
}

/*
 * Start a blocking lock: op 0 is F_OFD_SETLKW of (type, start, len) from
 * SEEK_SET, op 1 is flock(fd, type). Returns the job id, or -errno (EAGAIN:
 * every slot is busy).
 */
int sv_hw_start(int fd, int op, int type, long long start, long long len)
{
	pthread_mutex_lock(&mu);
	int id = -1;
	for (int i = 0; i < MAX_JOBS; i++)
		if (jobs[i].state == FREE) {
			id = i;
			break;
		}
	if (id < 0) {
		pthread_mutex_unlock(&mu);
		return -EAGAIN;
	}
	struct job *j = &jobs[id];
	j->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (j->fd < 0) {
		int e = errno;
		pthread_mutex_unlock(&mu);
		return -e;
	}
	j->op = op;
	j->type = type;
	j->start = start;
	j->len = len;
	j->cancelled = 0;
	j->result = 0;
	j->state = RUNNING;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&j->thread, &attr, run, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		close(j->fd);
		j->state = FREE;
		pthread_mutex_unlock(&mu);
		return -e;
	}
	pthread_mutex_unlock(&mu);
	return id;
}

/* Interrupt job `id` if it still runs. Repeat until it is collected. */
void sv_hw_cancel(int id)
{
	if (id < 0 || id >= MAX_JOBS)
		return;
	pthread_mutex_lock(&mu);
	if (jobs[id].state == RUNNING) {
		jobs[id].cancelled = 1;
		pthread_kill(jobs[id].thread, SIG_CANCEL);
	}
	pthread_mutex_unlock(&mu);
}

/* Finished jobs as (id, result) pairs into out[0..2*max); returns how many. */
int sv_hw_collect(int *out, int max)
{
	int n = 0;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAX_JOBS && n < max; i++)
		if (jobs[i].state == DONE) {
			out[2 * n] = i;
			out[2 * n + 1] = jobs[i].result;
			jobs[i].state = FREE;
			n++;
		}
	pthread_mutex_unlock(&mu);
	return n;
}
