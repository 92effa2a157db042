/* Hypercalls (include/mica/hypercall.h: RAX = number, arguments in RDI, RSI, RDX, R10, R8,
 * result in RAX, every other register kept), console lines and the way out. */
#include <stdarg.h>
#include <stdio.h>

#include "lib/line.h"
#include "vmm/rt/cpu.h"
#include "vmm/rt/rt.h"

/* VMMCALL (AMD) rather than VMCALL (Intel): set once by rt_init() from CPUID. */
static uint8_t use_vmmcall;

void rt_hcall_init(int vmmcall)
{
	use_vmmcall = vmmcall != 0;
}

long hcall5(long nr, long a0, long a1, long a2, long a3, long a4)
{
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;

	/* "memory": Mica reads and writes the buffers the arguments point to. */
	if (use_vmmcall)
		__asm__ volatile("vmmcall" : "+a"(nr)
				 : "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8) : "memory");
	else
		__asm__ volatile("vmcall" : "+a"(nr)
				 : "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8) : "memory");
	return nr;
}

void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	size_t n = line_vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	hcall(MICA_HC_CONSOLE_WRITE, (long)(uintptr_t)line, (long)n, 0);
}

void rt_exit(int code)
{
	hcall(MICA_HC_SHUTDOWN, MICA_SHUTDOWN_POWEROFF, code, 0);
	rt_crash();
}
