/* semctl GETVAL/SETVAL/GETALL/SETALL/GETPID/GETNCNT/GETZCNT: values, ERANGE
 * at -1 and 32768, semnum checks, EFAULT, who GETPID reports, unknown
 * commands. */
#include "common.h"
#include <sys/syscall.h>

static void show(int id, const char *label)
{
	unsigned short v[3] = { 9999, 9999, 9999 };
	union semun a = { .array = v };
	TRY(semctl(id, 0, GETALL, a));
	say("%s: %u %u %u", label, v[0], v[1], v[2]);
}

int main(void)
{
	setup();
	int id = sem_private(3);
	union semun a;

	CHECK("GETVAL initial", semctl(id, 0, GETVAL));
	show(id, "GETALL initial");
	CHECK("GETPID before any op", semctl(id, 0, GETPID));

	a.val = 7;
	CHECK("SETVAL 7", semctl(id, 1, SETVAL, a));
	CHECK("GETVAL", semctl(id, 1, GETVAL));
	a.val = -1;
	CHECK("SETVAL -1", semctl(id, 1, SETVAL, a));
	a.val = 32768;
	CHECK("SETVAL 32768", semctl(id, 1, SETVAL, a));
	a.val = 65536 + 3;
	CHECK("SETVAL 65539", semctl(id, 1, SETVAL, a));
	a.val = INT_MIN;
	CHECK("SETVAL INT_MIN", semctl(id, 1, SETVAL, a));
	CHECK("GETVAL after failures", semctl(id, 1, GETVAL));
	a.val = 32767;
	CHECK("SETVAL 32767", semctl(id, 1, SETVAL, a));
	CHECK("GETVAL", semctl(id, 1, GETVAL));
	a.val = 0;
	CHECK("SETVAL 0", semctl(id, 1, SETVAL, a));

	CHECK("GETVAL semnum 3", semctl(id, 3, GETVAL));
	CHECK("GETVAL semnum -1", semctl(id, -1, GETVAL));
	a.val = 1;
	CHECK("SETVAL semnum 3", semctl(id, 3, SETVAL, a));
	CHECK("SETVAL semnum -1", semctl(id, -1, SETVAL, a));
	CHECK("GETPID semnum 3", semctl(id, 3, GETPID));
	a.val = -5;
	CHECK("SETVAL -5 semnum 3 (which error?)", semctl(id, 3, SETVAL, a));
	CHECK("GETVAL bad id", semctl(-1, 0, GETVAL));

	unsigned short in[3] = { 1, 2, 3 };
	a.array = in;
	CHECK("SETALL 1 2 3", semctl(id, 0, SETALL, a));
	show(id, "GETALL");
	CHECK("SETALL semnum ignored", semctl(id, 77, SETALL, a));
	unsigned short big[3] = { 4, 32768, 5 };
	a.array = big;
	CHECK("SETALL with 32768", semctl(id, 0, SETALL, a));
	show(id, "GETALL after failed SETALL");
	unsigned short max[3] = { 65535, 0, 0 };
	a.array = max;
	CHECK("SETALL with 65535", semctl(id, 0, SETALL, a));
	unsigned short ok[3] = { 32767, 0, 32767 };
	a.array = ok;
	CHECK("SETALL 32767 0 32767", semctl(id, 0, SETALL, a));
	show(id, "GETALL");
	CHECK("SETALL NULL", semctl(id, 0, SETALL, (union semun){ .array = NULL }));
	CHECK("GETALL NULL", semctl(id, 0, GETALL, (union semun){ .array = NULL }));
	CHECK("GETALL bad pointer", semctl(id, 0, GETALL, (union semun){ .array = (unsigned short *)8 }));
	show(id, "GETALL after EFAULTs");

	/* GETPID: SETALL, SETVAL and semop all record the caller */
	yes("GETPID after SETALL is me", semctl(id, 2, GETPID) == getpid());
	int fd[2];
	xpipe(fd);
	pid_t c = xfork();
	if (c == 0) {
		xsop(id, 0, -1, 0);
		union semun b = { .val = 9 };
		if (semctl(id, 1, SETVAL, b) < 0) _exit(1);
		_exit(0);
	}
	reap_ok(c);
	yes("GETPID s0 after child's semop is the child", semctl(id, 0, GETPID) == c);
	yes("GETPID s1 after child's SETVAL is the child", semctl(id, 1, GETPID) == c);
	yes("GETPID s2 still me", semctl(id, 2, GETPID) == getpid());
	show(id, "GETALL");

	/* counts on an idle set */
	CHECK("GETNCNT", semctl(id, 0, GETNCNT));
	CHECK("GETZCNT", semctl(id, 1, GETZCNT));

	/* unknown commands */
	CHECK("cmd 99", semctl(id, 0, 99));
	CHECK("cmd -1", semctl(id, 0, -1));
	CHECK("cmd 4 (unused)", semctl(id, 0, 4));
	CHECK("cmd 99 bad id", semctl(-1, 0, 99));
	CHECK("raw GETVAL|IPC_64", syscall(SYS_semctl, id, 0, GETVAL | 0x100, 0));
	CHECK("raw GETVAL", syscall(SYS_semctl, id, 0, GETVAL, 0));
	CHECK("raw SETVAL 5", syscall(SYS_semctl, id, 0, SETVAL, 5L));
	CHECK("raw SETVAL with high bits set", syscall(SYS_semctl, id, 0, SETVAL, 0x100000006L));
	CHECK("raw GETVAL", syscall(SYS_semctl, id, 0, GETVAL, 0));

	sem_rm(id);
	CHECK("GETVAL after IPC_RMID", semctl(id, 0, GETVAL));
	CHECK("GETALL after IPC_RMID", semctl(id, 0, GETALL, (union semun){ .array = in }));
	CHECK("cmd 99 after IPC_RMID", semctl(id, 0, 99));
	say("done");
	return 0;
}
