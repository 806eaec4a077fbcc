// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin for `make profile`: how many guest kernel instructions
 * each translation block executed, over a window the guest opens and closes.
 *
 * Every block at a kernel address (the upper half) gets a counter that the
 * translated code bumps inline each time the block runs; a block's
 * instructions times its count is what it executed. A thread polls for two
 * files the guest creates over the lab's shared directory: when <out>.start
 * appears the counters are read once, when <out>.stop appears they are read
 * again, and <out> receives "address instructions executions" per block for
 * the difference (or for the whole run if no window was opened). The
 * counters are bumped without atomics: vCPUs racing on one block may lose a
 * count now and then, which a profile can afford.
 *
 * With mmio=on, every memory access of a kernel instruction also calls
 * back, and the accesses that reach device memory (MMIO: under emulation
 * each one is an exit to the device model) are counted for the block: the
 * lines get a fourth column. A callback per access slows the guest down
 * several times over.
 *
 * Written against the plugin API of QEMU 7.2 (version 1), which the lab's
 * Debian QEMU has; only functions that API has are declared here, as no
 * qemu-plugin.h is installed with it.
 *
 *   -plugin <this>.so,out=<file>[,mmio=on]
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
struct qemu_plugin_hwaddr;
typedef uint32_t qemu_plugin_meminfo_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_RW = 3 };
typedef void (*tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb)(qemu_plugin_id_t id, void *userdata);
typedef void (*mem_cb)(unsigned int vcpu, qemu_plugin_meminfo_t info,
		       uint64_t vaddr, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
					      enum qemu_plugin_op op, void *ptr,
					      uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb cb,
				    void *userdata);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
						 size_t idx);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, mem_cb cb,
				      enum qemu_plugin_cb_flags flags,
				      enum qemu_plugin_mem_rw rw, void *userdata);
struct qemu_plugin_hwaddr *qemu_plugin_get_hwaddr(qemu_plugin_meminfo_t info,
						  uint64_t vaddr);
bool qemu_plugin_hwaddr_is_io(const struct qemu_plugin_hwaddr *haddr);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define KERNEL_START 0xffff800000000000ull
#define HASH_BITS 20

struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t count;		/* bumped by the translated code */
	uint64_t at_start;	/* count when the window opened */
	uint64_t at_stop;	/* count when it closed */
	uint64_t mmio;		/* its accesses to device memory (mmio=on) */
	uint64_t mmio_start;
	uint64_t mmio_stop;
	struct block *next;
};

static struct block *table[1 << HASH_BITS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char out[4096];
static int mmio;
/* 0: no window yet, 1: open, 2: closed. */
static int window;
/* When the window opened and closed (CLOCK_MONOTONIC). */
static struct timespec opened, closed;

static size_t hash(uint64_t vaddr)
{
	return (vaddr * 0x9e3779b97f4a7c15ull) >> (64 - HASH_BITS);
}

static void mem_access(unsigned int vcpu, qemu_plugin_meminfo_t info,
		       uint64_t vaddr, void *userdata)
{
	struct qemu_plugin_hwaddr *hw = qemu_plugin_get_hwaddr(info, vaddr);
	struct block *b = userdata;

	if (hw && qemu_plugin_hwaddr_is_io(hw))
		__atomic_fetch_add(&b->mmio, 1, __ATOMIC_RELAXED);
}

static void trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
	uint64_t insns = qemu_plugin_tb_n_insns(tb);
	struct block *b;
	size_t h;

	if (vaddr < KERNEL_START)
		return;
	h = hash(vaddr);
	pthread_mutex_lock(&lock);
	/* A block translated again (flushed, or another vCPU) counts on. */
	for (b = table[h]; b; b = b->next)
		if (b->vaddr == vaddr && b->insns == insns)
			break;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			pthread_mutex_unlock(&lock);
			return;
		}
		b->vaddr = vaddr;
		b->insns = insns;
		b->next = table[h];
		table[h] = b;
		/* New inside the window: it started at 0. */
	}
	pthread_mutex_unlock(&lock);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &b->count, 1);
	if (mmio) {
		size_t i;

		for (i = 0; i < insns; i++)
			qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i),
							 mem_access, QEMU_PLUGIN_CB_NO_REGS,
							 QEMU_PLUGIN_MEM_RW, b);
	}
}

/* Reads every counter into at_start (stop = 0) or at_stop (stop = 1). */
static void snapshot(int stop)
{
	struct block *b;
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		for (b = table[i]; b; b = b->next) {
			uint64_t c = __atomic_load_n(&b->count, __ATOMIC_RELAXED);
			uint64_t m = __atomic_load_n(&b->mmio, __ATOMIC_RELAXED);

			if (stop) {
				b->at_stop = c;
				b->mmio_stop = m;
			} else {
				b->at_start = c;
				b->mmio_start = m;
			}
		}
	window = stop ? 2 : 1;
	clock_gettime(CLOCK_MONOTONIC, stop ? &closed : &opened);
	pthread_mutex_unlock(&lock);
}

static int exists(const char *suffix)
{
	char path[sizeof(out) + 16];

	snprintf(path, sizeof(path), "%s.%s", out, suffix);
	return access(path, F_OK) == 0;
}

static void *watch(void *arg)
{
	while (window < 2) {
		if (window == 0 && exists("start"))
			snapshot(0);
		else if (window == 1 && exists("stop"))
			snapshot(1);
		usleep(20000);
	}
	return NULL;
}

static void finish(qemu_plugin_id_t id, void *userdata)
{
	struct block *b;
	FILE *f;
	size_t i;

	if (window == 1)
		snapshot(1);
	f = fopen(out, "w");
	if (!f)
		return;
	if (window)
		fprintf(f, "# window start..stop, %.3f s\n",
			(closed.tv_sec - opened.tv_sec) +
			(closed.tv_nsec - opened.tv_nsec) / 1e9);
	else
		fprintf(f, "# window: the whole run\n");
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		for (b = table[i]; b; b = b->next) {
			uint64_t n = window ? b->at_stop - b->at_start : b->count;
			uint64_t m = window ? b->mmio_stop - b->mmio_start : b->mmio;

			if (!n)
				continue;
			fprintf(f, "%llx %llu %llu", (unsigned long long)b->vaddr,
				(unsigned long long)b->insns, (unsigned long long)n);
			if (mmio)
				fprintf(f, " %llu", (unsigned long long)m);
			fputc('\n', f);
		}
	fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc,
			char **argv)
{
	pthread_t thread;
	int i;

	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			snprintf(out, sizeof(out), "%s", argv[i] + 4);
		else if (!strcmp(argv[i], "mmio=on"))
			mmio = 1;
	if (!out[0]) {
		fprintf(stderr, "tbprof: no out=<file>\n");
		return -1;
	}
	if (pthread_create(&thread, NULL, watch, NULL))
		return -1;
	pthread_detach(thread);
	qemu_plugin_register_vcpu_tb_trans_cb(id, trans);
	qemu_plugin_register_atexit_cb(id, finish, NULL);
	return 0;
}
