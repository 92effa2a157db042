/* The devices this service serves, as Mica listed them (MICA_HC_SVC_DEVICE), each with
 * its backend state; and the switches the net devices share. Filled once at start-up by
 * dev_setup(), then used by vmm/serve.c. */
#ifndef MICA_VMM_SETUP_H
#define MICA_VMM_SETUP_H

#include <stdint.h>

#include <mica/service.h>

#include "vmm/backend.h"
#include "vmm/blk.h"
#include "vmm/console.h"
#include "vmm/net.h"
#include "vmm/switch.h"

#define DEV_MAX    64u /* devices served; more are left without a backend */
#define SWITCH_MAX 8u

struct svc_dev {
	struct mica_svc_device info;
	struct vdev v;
	uint64_t offer;        /* the features we offered */
	uint8_t attached;      /* MICA_HC_SVC_ATTACH took our offer */
	uint8_t said_config;   /* logged a CONFIG request */
	uint8_t said_console;  /* logged a refused MICA_HC_SVC_CONSOLE */
	union {
		struct blk blk;
		struct con con;
		struct {
			unsigned sw;   /* index in switches[] */
			unsigned port; /* its port there */
		} net;
	} be;
};

struct svc_switch {
	uint32_t id;       /* mica_svc_device.net_switch */
	unsigned nports;
	struct vdev *port[SW_MAX_PORTS];   /* for net_serve_tx(); NULL: not attached */
	struct svc_dev *dev[SW_MAX_PORTS]; /* the same devices, for their signals */
	struct sw sw;
};

extern struct svc_dev devs[DEV_MAX];
extern unsigned ndevs;
extern struct svc_switch switches[SWITCH_MAX];
extern unsigned nswitches;

/* Lists the devices, maps the windows they need, sets up the backends and attaches each
 * device with its offer, saying one line per device. Returns how many were attached. */
unsigned dev_setup(void);
/* The same for devices Mica added since (a clone's, MICA_HC_MGMT_CLONE): each attached, a
 * net device given a new port on its switch. Returns how many were attached. */
unsigned dev_setup_more(void);

/* "block", "console", "net", or "virtio type <n>" for logs. */
const char *dev_type_name(uint32_t type);

#endif
