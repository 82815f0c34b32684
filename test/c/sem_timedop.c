/* semtimedop: timeout -> EAGAIN after at least the timeout, zero timeout,
 * invalid timespec -> EINVAL (and where that check sits among the others),
 * EFAULT for a bad timeout pointer, wake-up before the timeout. */
#include "common.h"

static int tsop(int id, int num, int op, int flg, const struct timespec *ts)
{
	struct sembuf b = { (unsigned short)num, (short)op, (short)flg };
	return semtimedop(id, &b, 1, ts);
}

int main(void)
{
	setup();
	long opm = semopm();
	int id = sem_private(2);
	struct timespec ts;
	double t0, el;

	/* 1. timeout */
	ts = (struct timespec){ 0, 200 * 1000000L };
	t0 = now_s();
	CHECK("timeout 200ms on -1", tsop(id, 0, -1, 0, &ts));
	el = now_s() - t0;
	yes("elapsed >= timeout", el >= 0.2);
	yes("elapsed < 5s", el < 5);
	say("value %d ncnt %d", getval(id, 0), getncnt(id, 0));
	yes("timespec untouched", ts.tv_sec == 0 && ts.tv_nsec == 200 * 1000000L);

	setval(id, 1, 1);
	ts = (struct timespec){ 0, 100 * 1000000L };
	t0 = now_s();
	CHECK("timeout 100ms on zero-wait", tsop(id, 1, 0, 0, &ts));
	el = now_s() - t0;
	yes("elapsed >= timeout", el >= 0.1);
	say("zcnt %d", getzcnt(id, 1));

	/* IPC_NOWAIT only on an op that does not block: still waits */
	struct sembuf b2[2] = { { 1, 0, 0 }, { 0, 1, IPC_NOWAIT } };
	t0 = now_s();
	CHECK("nowait on the other op", semtimedop(id, b2, 2, &ts));
	el = now_s() - t0;
	yes("waited for the timeout", el >= 0.1);
	b2[0].sem_flg = IPC_NOWAIT;
	b2[1].sem_flg = 0;
	t0 = now_s();
	CHECK("nowait on the blocking op", semtimedop(id, b2, 2, &ts));
	yes("returned at once", now_s() - t0 < 0.09);
	say("values %d %d", getval(id, 0), getval(id, 1));
	setval(id, 1, 0);

	/* 2. zero timeout */
	ts = (struct timespec){ 0, 0 };
	CHECK("zero timeout blocking op", tsop(id, 0, -1, 0, &ts));
	CHECK("zero timeout op that succeeds", tsop(id, 0, 1, 0, &ts));
	CHECK("zero timeout -1 now possible", tsop(id, 0, -1, 0, &ts));
	say("value %d ncnt %d", getval(id, 0), getncnt(id, 0));

	/* 3. IPC_NOWAIT with a long timeout returns at once */
	ts = (struct timespec){ 5, 0 };
	t0 = now_s();
	CHECK("nowait with 5s timeout", tsop(id, 0, -1, IPC_NOWAIT, &ts));
	yes("returned at once", now_s() - t0 < 2);
	ts = (struct timespec){ LONG_MAX, 999999999 };
	CHECK("huge timeout nowait", tsop(id, 0, -1, IPC_NOWAIT, &ts));
	CHECK("huge timeout op that succeeds", tsop(id, 0, 1, 0, &ts));
	xsop(id, 0, -1, 0);

	/* 4. invalid timespec */
	struct timespec bad_ns = { 0, 1000000000L }, neg_ns = { 0, -1 }, neg_s = { -1, 0 };
	struct timespec max_ns = { 0, 999999999L };
	CHECK("tv_nsec 1e9 on op that would succeed", tsop(id, 0, 1, 0, &bad_ns));
	CHECK("tv_nsec 1e9 on op that would block", tsop(id, 0, -1, 0, &bad_ns));
	CHECK("tv_nsec 1e9 nowait", tsop(id, 0, -1, IPC_NOWAIT, &bad_ns));
	CHECK("tv_nsec -1", tsop(id, 0, 1, 0, &neg_ns));
	CHECK("tv_sec -1", tsop(id, 0, 1, 0, &neg_s));
	say("value %d", getval(id, 0));
	CHECK("tv_nsec 999999999 op that succeeds", tsop(id, 0, 0, 0, &max_ns));

	/* 5. which error wins */
	CHECK("bad timespec + bad id", tsop(-1, 0, 1, 0, &bad_ns));
	CHECK("bad timespec + EFBIG", tsop(id, 7, 1, 0, &bad_ns));
	CHECK("bad timespec + ERANGE", tsop(id, 0, SEMVMX_, 0, &bad_ns) < 0 ? -1 : (setval(id, 0, 0), 0));
	struct sembuf one = { 0, 1, 0 };
	CHECK("bad timespec + nsops 0", semtimedop(id, &one, 0, &bad_ns));
	struct sembuf *many = calloc((size_t)opm + 1, sizeof *many);
	if (!many) die("calloc");
	CHECK("bad timespec + nsops semopm+1", semtimedop(id, many, (size_t)opm + 1, &bad_ns));
	CHECK("bad timespec + bad sops", semtimedop(id, (struct sembuf *)8, 1, &bad_ns));
	CHECK("bad timeout pointer", semtimedop(id, &one, 1, (struct timespec *)8));
	CHECK("bad timeout pointer + nsops 0", semtimedop(id, &one, 0, (struct timespec *)8));
	CHECK("bad timeout pointer + nsops semopm+1", semtimedop(id, many, (size_t)opm + 1, (struct timespec *)8));
	CHECK("bad timeout pointer + bad id", semtimedop(-1, &one, 1, (struct timespec *)8));
	free(many);
	say("value %d", getval(id, 0));

	/* 6. woken before the timeout */
	int fd[2];
	xpipe(fd);
	pid_t c = xfork();
	if (c == 0) {
		struct timespec t10 = { 10, 0 };
		double s = now_s();
		int r = tsop(id, 0, -1, 0, &t10);
		int e = errno;
		char m[64];
		snprintf(m, sizeof m, "%s early %s", res(r, e), yesno(now_s() - s < 5));
		send_line(fd[1], m);
		_exit(0);
	}
	wait_ncnt(id, 0, 1);
	xsop(id, 0, 1, 0);
	char buf[128];
	say("child semtimedop 10s: %s", recv_line(fd[0], buf, sizeof buf));
	reap_ok(c);
	say("value %d ncnt %d", getval(id, 0), getncnt(id, 0));

	/* 7. removed set with a timeout */
	sem_rm(id);
	ts = (struct timespec){ 0, 1000000L };
	CHECK("after IPC_RMID", tsop(id, 0, -1, 0, &ts));
	say("done");
	return 0;
}
