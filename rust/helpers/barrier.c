// SPDX-License-Identifier: GPL-2.0

#include <linux/atomic.h>

void rust_helper_smp_mb__after_atomic(void)
{
	/* Full barrier after an atomic RMW; the caller documents its pairing. */
	smp_mb__after_atomic();
}
