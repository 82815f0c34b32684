/*
 * The two processes a sandbox in a PID namespace of its own adds around the
 * program (pidns.c): the monitor (the launcher itself, outside the namespace)
 * and init (pid 1 inside it).
 */
#ifndef SYSVISOR_PIDNS_H
#define SYSVISOR_PIDNS_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* Block every signal the monitor and init forward (before the first fork); *original is what the program gets back. */
void pidns_block_signals(sigset_t *original);

/* One line from a pipe, without its newline: its length, or -1 at EOF or on an error. */
int pidns_read_line(int fd, char *line, size_t len);

/*
 * pid 1: reaps every process of the namespace, passes the signals sent to it
 * on to the program, and when no process is left reports "status <wait
 * status of the program>" on to_monitor and exits (the kernel would kill
 * every process of the namespace when init exits).
 */
_Noreturn void pidns_init(pid_t program, int to_monitor);

/*
 * The launcher once init runs: passes the signals sent to it on to init and
 * ends as the program did (its exit code, or its signal), read from
 * from_init or in `read`, a line already taken from it (or NULL); as init
 * did when init reported nothing.
 */
_Noreturn void pidns_monitor(pid_t init, int from_init, const char *read);

#endif
