/* A test build of the service that manages by script (make vmm builds
 * $(BUILD)/vmm/vmm-mgmttest.elf with VMM_MGMTTEST defined): right after start-up it types a
 * fixed script into its own management console, with pauses between the commands, so the
 * management calls can be tested end to end on an emulator whose console takes no input
 * (Bochs; tests/e2e/manage.py, manage-script). The normal service has no script. */
#ifndef MICA_VMM_MGMTTEST_H
#define MICA_VMM_MGMTTEST_H

#ifdef VMM_MGMTTEST
void mgmttest_run(void);
#else
static inline void mgmttest_run(void)
{
}
#endif

#endif
