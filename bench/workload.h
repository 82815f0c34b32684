/*
 * Shared helpers for the workloads: argument parsing, the monotonic clock,
 * the one-line result ("ns_per_op <float>") and fatal errors.
 */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static inline double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, " (errno %d: %s)\n", errno, strerror(errno)); exit(2); } while (0)

/* Iteration count from argv[1] (default `def`). */
static inline long iterations(int argc, char **argv, long def)
{
	if (argc < 2)
		return def;
	char *end;
	long n = strtol(argv[1], &end, 10);
	if (*end != '\0' || n <= 0) {
		fprintf(stderr, "usage: %s [iterations > 0]\n", argv[0]);
		exit(2);
	}
	return n;
}

/*
 * Iterations every workload runs untimed before its timed loop, in every mode
 * alike: sysvisor's loop starts cold in each run (a new worker thread whose
 * JIT needs a few thousand notifications, 50-100 ms, to warm up) and the bench
 * compares steady states.
 */
static inline long warmup(long n)
{
	return n / 4;
}

static inline void report(double elapsed_ns, double ops)
{
	printf("ns_per_op %.3f\n", elapsed_ns / ops);
	fflush(stdout);
}

/* One semop on semaphore `num`, retrying EINTR. */
static inline void sem_change(int id, unsigned short num, short delta, short flags)
{
	struct sembuf op = { .sem_num = num, .sem_op = delta, .sem_flg = flags };
	while (semop(id, &op, 1) < 0)
		if (errno != EINTR)
			DIE("semop(%d, num %u, op %d, flags %#x)", id, num, delta, flags);
}

/* `pairs` times semop(-1) then semop(+1) on semaphore 0: uncontended while it starts at 1. */
static inline void down_up(int id, long pairs)
{
	struct sembuf down = { 0, -1, 0 }, up = { 0, 1, 0 };
	for (long i = 0; i < pairs; i++) {
		if (semop(id, &down, 1) < 0)
			DIE("semop(-1)");
		if (semop(id, &up, 1) < 0)
			DIE("semop(+1)");
	}
}

/* Wait for every child; fail if one did not exit 0. */
static inline void reap_children(void)
{
	int status;
	pid_t pid;
	int bad = 0;
	while ((pid = wait(&status)) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	if (bad) {
		fprintf(stderr, "a worker process failed\n");
		exit(2);
	}
}

/*
 * Two processes hand a token back and forth through semaphores 0 (ping:
 * parent -> child) and 1 (pong: child -> parent) of a new set, `down(id,
 * num)` being the wait. Prints ns_per_op per hand-off for `n` hand-offs,
 * after untimed warm-up rounds.
 */
static inline int pingpong_main(long n, void (*down)(int id, unsigned short num))
{
	long rounds = (n + 1) / 2, warm = warmup(rounds);
	int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	if (id < 0)
		DIE("semget(IPC_PRIVATE, 2)");
	pid_t pid = fork();
	if (pid < 0)
		DIE("fork");
	if (pid == 0) {
		for (long i = 0; i < warm + rounds; i++) {
			down(id, 0);             /* wait for ping */
			sem_change(id, 1, 1, 0); /* pong */
		}
		_exit(0);
	}
	double t0 = 0;
	for (long i = 0; i < warm + rounds; i++) {
		if (i == warm)
			t0 = now_ns();
		sem_change(id, 0, 1, 0); /* ping */
		down(id, 1);             /* wait for pong */
	}
	double t1 = now_ns();
	reap_children();
	if (semctl(id, 0, IPC_RMID) < 0)
		DIE("semctl(IPC_RMID)");
	report(t1 - t0, (double)rounds * 2);
	return 0;
}

/*
 * `workers` processes share one SEM_UNDO mutex (sem 0 of a new set, 1 = free)
 * and each runs loop(id, each) behind a start gate (sem 1, waited for zero)
 * once every one has run its warm-up rounds (sem 2 counts those still
 * warming up). Returns the wall time from the gate opening to the last exit,
 * after checking the mutex is free again and removing the set.
 */
static inline double mutex_workers(int workers, long each, void (*loop)(int id, long n))
{
	int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	if (id < 0)
		DIE("semget(IPC_PRIVATE, 3)");
	unsigned short init[3] = { 1, 1, (unsigned short)workers };
	union semun arg = { .array = init };
	if (semctl(id, 0, SETALL, arg) < 0)
		DIE("semctl(SETALL)");
	for (int w = 0; w < workers; w++) {
		pid_t pid = fork();
		if (pid < 0)
			DIE("fork");
		if (pid == 0) {
			loop(id, warmup(each));
			sem_change(id, 2, -1, 0); /* warm */
			struct sembuf gate = { 1, 0, 0 };
			while (semop(id, &gate, 1) < 0)
				if (errno != EINTR)
					DIE("semop(wait for the gate)");
			loop(id, each);
			_exit(0);
		}
	}
	struct sembuf warm = { 2, 0, 0 };
	while (semop(id, &warm, 1) < 0)
		if (errno != EINTR)
			DIE("semop(wait for the warm-up)");
	double t0 = now_ns();
	sem_change(id, 1, -1, 0); /* open the gate */
	reap_children();
	double t1 = now_ns();
	if (semctl(id, 0, GETVAL) != 1)
		DIE("mutex value is not 1 at the end");
	if (semctl(id, 0, IPC_RMID) < 0)
		DIE("semctl(IPC_RMID)");
	return t1 - t0;
}

/*
 * Two processes hand a byte back and forth through two pipes, no call of
 * theirs notified: what waking another process costs on this machine, the
 * unit every notification pays twice (the supervisor's wake-up, then the
 * caller's). With `one_cpu` both are pinned to the CPU the parent runs on.
 * Prints ns_per_op per hand-off for `n` hand-offs, after untimed warm-up.
 */
static inline int wake_main(long n, int one_cpu)
{
	long rounds = (n + 1) / 2, warm = warmup(rounds);
	int ping[2], pong[2];
	if (pipe(ping) < 0 || pipe(pong) < 0)
		DIE("pipe");
	if (one_cpu) {
		int cpu = sched_getcpu();
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu < 0 ? 0 : cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) < 0)
			DIE("sched_setaffinity");
	}
	pid_t pid = fork();
	if (pid < 0)
		DIE("fork");
	char c = 'x';
	if (pid == 0) {
		for (long i = 0; i < warm + rounds; i++)
			if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
				DIE("child: pipe hand-off %ld", i);
		_exit(0);
	}
	double t0 = 0;
	for (long i = 0; i < warm + rounds; i++) {
		if (i == warm)
			t0 = now_ns();
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			DIE("pipe hand-off %ld", i);
	}
	double t1 = now_ns();
	reap_children();
	report(t1 - t0, (double)rounds * 2);
	return 0;
}
#endif
