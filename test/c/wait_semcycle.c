/* wait_semcycle: two processes each hold one semaphore of a set (SEM_UNDO)
 * and then wait for the other's: a deadlock Linux never reports. Never ends
 * by itself (alarm guard natively; the watchdog ends it under sysvisor). */
#include "wait_common.h"

int main(void)
{
	setup();
	int id = sem_private(2);
	setval(id, 0, 1);
	setval(id, 1, 1);
	xsop(id, 0, -1, SEM_UNDO); /* the parent holds #0 */
	int ready[2];
	xpipe(ready);
	if (xfork() == 0) {
		die_with_parent();
		xsop(id, 1, -1, SEM_UNDO); /* the child holds #1 */
		send_go(ready[1]);
		xsop(id, 0, -1, SEM_UNDO); /* waits for the parent */
		_exit(0);
	}
	wait_go(ready[0]);
	say("each holds one semaphore and waits for the other's");
	xsop(id, 1, -1, SEM_UNDO); /* waits for the child */
	die("the cycle ended");
}
