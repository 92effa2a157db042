/* Where the entry stubs (arch/x86/svm/entry.S, arch/x86/vmx/entry.S) find things in a
 * struct vcpu (kernel/vcpu.h). Plain numbers, so that assembly can include this file;
 * kernel/vcpu.c checks each against offsetof() at build time. */
#ifndef MICA_VCPU_LAYOUT_H
#define MICA_VCPU_LAYOUT_H

#define VCPU_OFF_GPR(n)     (8 * (n))  /* regs.gpr[n], RAX = 0 ... R15 = 15 */

#endif
