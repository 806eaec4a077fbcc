// SPDX-License-Identifier: GPL-2.0

#include <linux/irqflags.h>
#include <linux/preempt.h>

bool rust_helper_irqs_disabled(void)
{
	return irqs_disabled();
}

bool rust_helper_in_hardirq(void)
{
	return in_hardirq();
}

bool rust_helper_in_task(void)
{
	return in_task();
}

void rust_helper_local_irq_disable(void)
{
	local_irq_disable();
}

void rust_helper_local_irq_enable(void)
{
	local_irq_enable();
}
