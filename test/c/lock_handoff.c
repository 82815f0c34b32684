/* Handing an fd to another process closes nothing: after SCM_RIGHTS or
 * pidfd_getfd the receiver holds the same open file description, so it
 * shares the description's flock lock (its close is not the last one while
 * the sender keeps an fd, nor the sender's while the receiver keeps one),
 * while POSIX locks stay the sender's: the receiver's close of its copy
 * releases nothing of them, and its F_SETLK conflicts with them.
 * (Not checked here: a description whose only reference is in flight, sent
 * and closed but not yet received, keeps its flock lock on Linux and loses
 * it under sysvisor, which counts fds only; see supervisor/locks/feature.ts.) */
#include "lock_common.h"
#include <sys/socket.h>
#include <sys/syscall.h>

static int send_fd(int sock, int fd)
{
	char c = 'x';
	struct iovec iov = { &c, 1 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m;
	memset(&m, 0, sizeof m);
	memset(&u, 0, sizeof u);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.b;
	m.msg_controllen = sizeof u.b;
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof fd);
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char c;
	struct iovec iov = { &c, 1 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.b;
	m.msg_controllen = sizeof u.b;
	if (recvmsg(sock, &m, 0) != 1)
		die("recvmsg");
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	if (h == NULL || h->cmsg_type != SCM_RIGHTS)
		die("recvmsg: no SCM_RIGHTS");
	int fd;
	memcpy(&fd, CMSG_DATA(h), sizeof fd);
	return fd;
}

/* flock(LOCK_EX | LOCK_NB) by a fresh process with its own open of path. */
static const char *flock_probe(const char *path)
{
	static char out[4][64];
	static int n;
	char *b = out[n++ & 3];
	int p[2];
	xpipe(p);
	pid_t c = xfork();
	if (c == 0) {
		int fd = xopen(path, O_RDWR);
		errno = 0;
		long r = flock(fd, LOCK_EX | LOCK_NB);
		send_res(p[1], r, errno);
		_exit(0);
	}
	recv_line(p[0], b, 64);
	reap_ok(c);
	close(p[0]);
	close(p[1]);
	return b;
}

/* A child that closes every fd it inherited of g and h, then takes the
 * parent's g and h by `how` ('s': SCM_RIGHTS, 'p': pidfd_getfd) and runs
 * the steps the parent asks for. */
static int rep[2], go[2], sock[2];

static int take(char how, pid_t parent, int fd, const char *name)
{
	char label[64];
	if (how == 's') {
		int got = recv_fd(sock[1]);
		snprintf(label, sizeof label, "receiver recvmsg(%s): ok", name);
		send_line(rep[1], label);
		return got;
	}
	int pidfd = (int)syscall(SYS_pidfd_open, parent, 0);
	if (pidfd < 0)
		die("pidfd_open(parent)");
	snprintf(label, sizeof label, "receiver pidfd_getfd(%s)", name);
	int got = (int)RCHECK_OK(rep[1], label, syscall(SYS_pidfd_getfd, pidfd, fd, 0));
	close(pidfd);
	return got;
}

static pid_t receiver(char how, int g, int h, int hg)
{
	pid_t parent = getpid();
	pid_t c = xfork();
	if (c != 0) {
		name_pid(c, "receiver");
		return c;
	}
	close(g);
	close(h);
	close(hg);
	int cg = take(how, parent, g, "g");
	int ch = take(how, parent, h, "h");
	RCHECK(rep[1], "receiver flock(its g, LOCK_EX | LOCK_NB)", flock(cg, LOCK_EX | LOCK_NB));
	RCHECK(rep[1], "receiver F_SETLK write 0-9 on its h", lk(ch, F_SETLK, F_WRLCK, 0, 10));
	send_line(rep[1], "end");
	wait_go(go[0]);
	RCHECK(rep[1], "receiver close(its g)", close(cg));
	RCHECK(rep[1], "receiver close(its h)", close(ch));
	send_line(rep[1], "end");
	wait_go(go[0]);
	_exit(0);
}

static void handoff(const char *title, char how)
{
	say("-- %s", title);
	int g = make_file("g", 10);
	int h = make_file("h", 10);
	CHECK("parent flock(g, LOCK_EX)", flock(g, LOCK_EX));
	CHECK("parent F_SETLK write 0-9 on h", lk(h, F_SETLK, F_WRLCK, 0, 10));
	int hg = xopen("g", O_RDWR);
	CHECK("parent F_SETLK write 0-9 on g (second open)", lk(hg, F_SETLK, F_WRLCK, 0, 10));
	if (how == 's') {
		CHECK("parent sendmsg(SCM_RIGHTS, g)", send_fd(sock[0], g));
		CHECK("parent sendmsg(SCM_RIGHTS, h)", send_fd(sock[0], h));
	}
	pid_t c = receiver(how, g, h, hg);
	relay_lines(rep[0], "  ");
	say("  third process flock(g): %s", flock_probe("g"));
	CHECK("parent close(g) (releases its POSIX lock on g, not the flock)", close(g));
	say("  third process flock(g): %s", flock_probe("g"));
	say("  third process F_SETLK write 0-9 on g: %s", probe("g", F_SETLK, F_WRLCK, 0, 10));
	send_go(go[1]);
	relay_lines(rep[0], "  ");
	say("  third process flock(g): %s", flock_probe("g"));
	say("  third process F_SETLK write 0-9 on h: %s", probe("h", F_SETLK, F_WRLCK, 0, 10));
	send_go(go[1]);
	reap_ok(c);
	close(hg);
	close(h);
	unlink("g");
	unlink("h");
}

int main(void)
{
	setup();
	name_pid(getpid(), "parent");
	xpipe(rep);
	xpipe(go);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sock) < 0)
		die("socketpair(AF_UNIX)");
	handoff("SCM_RIGHTS: sending closes nothing", 's');
	handoff("pidfd_getfd: a duplicate without a close", 'p');
	say("done");
	return 0;
}
