/* crasher: for on_crash = restart. Triple-faults on its first two runs; on the third it
 * reports success and powers off. */
#include "lib/guest.h"

int main(unsigned vcpu)
{
	struct mica_self_info info;

	if (self_info(&info) != (long)sizeof(info)) {
		printf("FAIL: SELF_INFO failed\n");
		return 1;
	}
	printf("crasher: run %u\n", info.restarts);
	if (info.restarts < 2)
		triple_fault();
	printf("PASS: restarted twice\n");
	return 0;
}
