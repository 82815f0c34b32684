/* Threads of one process using semaphores concurrently: one thread blocks,
 * another wakes it; GETPID reports the process (tgid), not the thread;
 * ping-pong and mutual exclusion between threads; IPC_RMID wakes a blocked
 * thread with EIDRM. */
#include "common.h"
#include <pthread.h>
#include <sys/syscall.h>

static int id;
static volatile long inside, max_inside, counter;
static pid_t waker_tid;

static void *blocker(void *arg)
{
	(void)arg;
	int r = sop1(id, 0, -1, 0);
	return (void *)(intptr_t)(r < 0 ? -errno : 0);
}

static void *poster(void *arg)
{
	(void)arg;
	wait_ncnt(id, 0, 1);
	waker_tid = (pid_t)syscall(SYS_gettid);
	xsop(id, 0, 1, 0);
	return NULL;
}

#define ROUNDS 2000
static void *ping(void *arg)
{
	int me = (int)(intptr_t)arg;
	for (int i = 0; i < ROUNDS; i++) {
		xsop(id, 1 + me, -1, 0);
		xsop(id, 1 + !me, 1, 0);
	}
	return NULL;
}

#define MUTEX_THREADS 6
#define MUTEX_ROUNDS 500
static void *locker(void *arg)
{
	(void)arg;
	for (int i = 0; i < MUTEX_ROUNDS; i++) {
		xsop(id, 3, -1, SEM_UNDO);
		long in = __atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST);
		if (in > max_inside)
			max_inside = in;
		long c = counter;
		if ((i & 15) == 0)
			sched_yield();
		counter = c + 1;
		__atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
		xsop(id, 3, 1, SEM_UNDO);
	}
	return NULL;
}

static const char *tres(void *rv)
{
	intptr_t v = (intptr_t)rv;
	return v == 0 ? "0" : res(-1, (int)-v);
}

int main(void)
{
	setup();
	id = sem_private(4);
	pthread_t a, b;

	/* 1. one thread blocks, another wakes it */
	if (pthread_create(&a, NULL, blocker, NULL) || pthread_create(&b, NULL, poster, NULL))
		die("pthread_create");
	void *rv;
	pthread_join(a, &rv);
	pthread_join(b, NULL);
	say("blocked thread: %s", tres(rv));
	yes("GETPID is the process id", semctl(id, 0, GETPID) == getpid());
	yes("waker was another thread", waker_tid != getpid());
	say("value %d ncnt %d", getval(id, 0), getncnt(id, 0));

	/* 2. main thread blocks, a thread posts */
	if (pthread_create(&b, NULL, poster, NULL))
		die("pthread_create");
	CHECK("main thread woken by a thread", sop1(id, 0, -1, 0));
	pthread_join(b, NULL);

	/* 3. ping-pong */
	setval(id, 1, 1);
	if (pthread_create(&a, NULL, ping, (void *)0) || pthread_create(&b, NULL, ping, (void *)1))
		die("pthread_create");
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	say("ping-pong %d rounds: values %d %d", ROUNDS, getval(id, 1), getval(id, 2));

	/* 4. mutual exclusion */
	setval(id, 3, 1);
	pthread_t t[MUTEX_THREADS];
	for (int i = 0; i < MUTEX_THREADS; i++)
		if (pthread_create(&t[i], NULL, locker, NULL))
			die("pthread_create");
	for (int i = 0; i < MUTEX_THREADS; i++)
		pthread_join(t[i], NULL);
	say("mutex: counter %ld (want %d), max inside %ld, value %d",
	    counter, MUTEX_THREADS * MUTEX_ROUNDS, max_inside, getval(id, 3));

	/* 5. IPC_RMID from the main thread wakes a blocked thread */
	if (pthread_create(&a, NULL, blocker, NULL))
		die("pthread_create");
	wait_ncnt(id, 0, 1);
	sem_rm(id);
	pthread_join(a, &rv);
	say("blocked thread after IPC_RMID: %s", tres(rv));
	say("done");
	return 0;
}
