/*
 * fault_handler - run with SYSVISOR_TEST_FAULT=semget: every semget handler
 * call throws inside the supervisor. Each semget must answer ENOSYS, and the
 * supervisor must go on answering the other calls.
 */
#include "common.h"

int main(void)
{
	setup();
	for (int i = 1; i <= 5; i++)
		CHECK("semget", semget(IPC_PRIVATE, 1, IPC_CREAT | 0600));
	struct seminfo si;
	union semun a = { .__buf = &si };
	CHECK_OK("semctl(IPC_INFO) afterwards", semctl(0, 0, IPC_INFO, a));
	say("done");
	return 0;
}
