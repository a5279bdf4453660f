/* filemap: see include/du/filemap.h. */
#include "du/filemap.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The calling thread's open view, read by the SIGBUS handler (which runs on the faulting thread). */
static __thread uintptr_t view_lo, view_hi;
static __thread volatile sig_atomic_t view_hit;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static uintptr_t page_size;

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	uintptr_t a = (uintptr_t)si->si_addr;
	if (a >= view_lo && a < view_hi) {
		/* A page past the file's new end: zeros instead, and the view says so. */
		void *pg = (void *)(a & ~(page_size - 1));
		if (mmap(pg, page_size, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) {
			view_hit = 1;
			return;
		}
	}
	/* Not ours: the default action, when the faulting access runs again. */
	signal(sig, SIG_DFL);
}

static void init_page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	page_size = ps > 0 ? (uintptr_t)ps : 4096;
}

/* The handler is ours (again: a test framework or a library may have put its own since). */
static bool guard(void)
{
	struct sigaction old, sa;
	if (sigaction(SIGBUS, NULL, &old) == 0 && (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_sigbus)
		return true;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) == 0;
}

int du_fmap_open(struct du_fmap *m, int fd, uint64_t off, size_t len, struct du_err *err)
{
	memset(m, 0, sizeof(*m));
	pthread_once(&once, init_page_size);
	if (!guard())
		return du_err_set(err, DU_ERR_IO, "cannot guard file views against SIGBUS");
	if (view_hi)
		return du_err_set(err, DU_ERR_INTERNAL, "a second file view in one thread");
	if (len == 0)
		return du_err_set(err, DU_ERR_INTERNAL, "an empty file view");
	uint64_t start = off & ~(uint64_t)(page_size - 1);
	size_t lead = (size_t)(off - start);
	void *b = mmap(NULL, len + lead, PROT_READ, MAP_SHARED, fd, (off_t)start);
	if (b == MAP_FAILED)
		return du_err_sys(err, DU_ERR_IO, errno, "cannot map the file");
	(void)madvise(b, len + lead, MADV_SEQUENTIAL);
	m->base = b;
	m->maplen = len + lead;
	m->p = (const unsigned char *)b + lead;
	m->len = len;
	view_hit = 0;
	view_lo = (uintptr_t)b;
	view_hi = (uintptr_t)b + m->maplen;
	return DU_OK;
}

bool du_fmap_damaged(const struct du_fmap *m)
{
	return m->base && view_hit;
}

void du_fmap_close(struct du_fmap *m)
{
	if (!m->base)
		return;
	view_lo = view_hi = 0;
	view_hit = 0;
	munmap(m->base, m->maplen);
	memset(m, 0, sizeof(*m));
}
